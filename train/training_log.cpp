#include "train/training_log.h"

#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/serialize/atomic_file.h"

namespace sparsecap::train {

void truncate_log_after(const std::filesystem::path& path, int64_t step) {
  std::ifstream in(path);
  SPARSECAP_CHECK(in.good(), "cannot read the training log ", path.string());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string kept;
  for (size_t i = 0; i < lines.size(); ++i) {
    const nlohmann::json record = nlohmann::json::parse(lines[i], nullptr, false);
    if (record.is_discarded() && i + 1 == lines.size()) break;  // torn by a kill mid-write
    SPARSECAP_CHECK(record.is_object() && record.contains("step") && record.at("step").is_number_integer(),
                    path.string(), ": line ", i + 1, " is not a log record with a step");
    if (record.at("step").get<int64_t>() <= step) kept += lines[i] + "\n";
  }
  write_file_atomically(path, kept);
}

TrainingLog::TrainingLog(const std::filesystem::path& path, std::optional<int64_t> resume_step) : path_(path) {
  if (resume_step && std::filesystem::exists(path)) truncate_log_after(path, *resume_step);
  out_.open(path, resume_step ? std::ios::app : std::ios::trunc);
  SPARSECAP_CHECK(out_.good(), "cannot write the training log ", path.string());
}

void TrainingLog::write(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
  SPARSECAP_CHECK(out_.good(), "writing the training log ", path_.string(), " failed (disk full?)");
}

}  // namespace sparsecap::train
