#include "train/tensorboard_writer.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <iterator>

#include "engine/error.h"
#include "engine/serialize/atomic_file.h"
#include "train/tensorboard_event.pb.h"

namespace sparsecap::train {

namespace {

constexpr const char* kFilePrefix = "events.out.tfevents.";

std::array<uint32_t, 256> crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);  // reflected Castagnoli
    table[i] = crc;
  }
  return table;
}

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 && name[0] ? std::string(name) : std::string("localhost");
}

// Numeric leaves of `value` as (tag, number), nested objects joined with '/'.
void flatten_numbers(const std::string& tag, const nlohmann::json& value,
                     std::vector<std::pair<std::string, double>>& out) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) flatten_numbers(tag.empty() ? key : tag + "/" + key, child, out);
  } else if (value.is_number()) {
    out.emplace_back(tag, value.get<double>());
  } else if (value.is_boolean()) {
    out.emplace_back(tag, value.get<bool>() ? 1.0 : 0.0);
  }
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  static const std::array<uint32_t, 256> table = crc32c_table();
  const auto* bytes = static_cast<const uint8_t*>(data);
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& directory, std::optional<int64_t> resume_step) {
  const std::vector<std::filesystem::path> existing = tensorboard_event_files(directory);
  if (resume_step && !existing.empty()) {
    path_ = existing.back();
    truncate_event_file(path_, *resume_step);
    out_.open(path_, std::ios::binary | std::ios::app);
    SPARSECAP_CHECK(out_.good(), "cannot append to the TensorBoard event file ", path_.string());
    return;
  }
  const auto seconds = static_cast<long long>(wall_time());
  path_ = directory / (kFilePrefix + std::to_string(seconds) + "." + host_name() + "." + std::to_string(::getpid()));
  out_.open(path_, std::ios::binary | std::ios::trunc);
  SPARSECAP_CHECK(out_.good(), "cannot write the TensorBoard event file ", path_.string());
  tensorboard::Event event;
  event.set_wall_time(wall_time());
  event.set_file_version("brain.Event:2");
  write_event(event.SerializeAsString());
}

void TensorBoardWriter::write_event(const std::string& serialized_event) {
  const uint64_t length = serialized_event.size();
  char header[12];
  for (int i = 0; i < 8; ++i) header[i] = static_cast<char>((length >> (8 * i)) & 0xFFu);
  const uint32_t length_crc = masked_crc32c(header, 8), data_crc = masked_crc32c(serialized_event.data(), length);
  for (int i = 0; i < 4; ++i) header[8 + i] = static_cast<char>((length_crc >> (8 * i)) & 0xFFu);
  char footer[4];
  for (int i = 0; i < 4; ++i) footer[i] = static_cast<char>((data_crc >> (8 * i)) & 0xFFu);
  out_.write(header, sizeof header);
  out_.write(serialized_event.data(), static_cast<std::streamsize>(length));
  out_.write(footer, sizeof footer);
  out_.flush();
  SPARSECAP_CHECK(out_.good(), "writing the TensorBoard event file ", path_.string(), " failed (disk full?)");
}

void TensorBoardWriter::write_record(const nlohmann::json& record) {
  SPARSECAP_CHECK(record.contains("step") && record.at("step").is_number_integer(), "TensorBoard: log record ",
                  record.dump(), " has no integer step");
  std::vector<std::pair<std::string, double>> scalars;
  for (const auto& [key, value] : record.items())
    if (key != "step") flatten_numbers(key, value, scalars);
  tensorboard::Event event;
  event.set_wall_time(wall_time());
  event.set_step(record.at("step").get<int64_t>());
  for (const auto& [tag, number] : scalars) {
    tensorboard::Summary::Value* value = event.mutable_summary()->add_value();
    value->set_tag(tag);
    value->set_simple_value(static_cast<float>(number));
  }
  write_event(event.SerializeAsString());
}

void TensorBoardWriter::write_scalar(const std::string& tag, double number, int64_t step) {
  write_record({{"step", step}, {tag, number}});
}

void TensorBoardWriter::write_histogram(const std::string& tag, const std::vector<float>& values, int64_t step,
                                        int bins) {
  SPARSECAP_CHECK(!values.empty() && bins > 0, "TensorBoard histogram ", tag, ": no values or no bins");
  tensorboard::HistogramProto histogram;
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  double sum = 0, sum_squares = 0;
  for (float v : values) {
    sum += v;
    sum_squares += static_cast<double>(v) * v;
  }
  histogram.set_min(*low);
  histogram.set_max(*high);
  histogram.set_num(static_cast<double>(values.size()));
  histogram.set_sum(sum);
  histogram.set_sum_squares(sum_squares);
  // TensorBoard's buckets: counts of values up to each right edge (bucket_limit), ascending.
  const double width = (*high - *low) / bins;
  std::vector<double> counts(static_cast<size_t>(bins), 0.0);
  for (float v : values) {
    const int bin = width > 0 ? static_cast<int>((v - *low) / width) : 0;
    counts[static_cast<size_t>(std::clamp(bin, 0, bins - 1))] += 1;
  }
  for (int i = 0; i < bins; ++i) {
    histogram.add_bucket_limit(i + 1 == bins ? *high : *low + width * (i + 1));
    histogram.add_bucket(counts[static_cast<size_t>(i)]);
  }
  tensorboard::Event event;
  event.set_wall_time(wall_time());
  event.set_step(step);
  tensorboard::Summary::Value* value = event.mutable_summary()->add_value();
  value->set_tag(tag);
  *value->mutable_histo() = histogram;
  write_event(event.SerializeAsString());
}

void truncate_event_file(const std::filesystem::path& path, int64_t step) {
  std::ifstream in(path, std::ios::binary);
  SPARSECAP_CHECK(in.good(), "cannot read the TensorBoard event file ", path.string());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto read_u32 = [&](size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + i])) << (8 * i);
    return v;
  };
  std::string kept;
  for (size_t at = 0; at + 12 <= bytes.size();) {
    uint64_t length = 0;
    for (int i = 0; i < 8; ++i) length |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[at + i])) << (8 * i);
    if (read_u32(at + 8) != masked_crc32c(bytes.data() + at, 8) || length > bytes.size() - at - 16) break;
    const size_t data = at + 12, record_end = data + length + 4;
    if (read_u32(data + length) != masked_crc32c(bytes.data() + data, length)) break;
    tensorboard::Event event;
    if (!event.ParseFromArray(bytes.data() + data, static_cast<int>(length))) break;
    if (event.step() <= step) kept.append(bytes, at, record_end - at);
    at = record_end;
  }
  write_file_atomically(path, kept);
}

std::vector<std::filesystem::path> tensorboard_event_files(const std::filesystem::path& directory) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::exists(directory)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    if (entry.path().filename().string().rfind(kFilePrefix, 0) == 0) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace sparsecap::train
