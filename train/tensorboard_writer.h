#pragma once
// TensorBoard event files (events.out.tfevents.*) beside log.jsonl: every numeric field of every
// log record as a scalar at the record's step, nested objects flattened into "object/key" tags
// (per_mask_sparsity/decoder.logit.weight). The file is a sequence of TFRecords: length (uint64
// little-endian), masked CRC-32C of the length, an Event protobuf, masked CRC-32C of the Event.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sparsecap::train {

// CRC-32C (Castagnoli), and the masked form TFRecord stores: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t crc32c(const void* data, size_t size);
uint32_t masked_crc32c(const void* data, size_t size);

class TensorBoardWriter {
 public:
  // A new file in `directory`, named as TensorBoard expects, starting with the file-version event;
  // or, with `resume_step` and an event file already there, the newest one cut back to the events
  // of steps <= resume_step (see truncate_event_file) and continued, so a resumed run has no
  // duplicated steps.
  TensorBoardWriter(const std::filesystem::path& directory, std::optional<int64_t> resume_step);

  // One Event at `step` holding every numeric field of `record` (except "step") as a scalar.
  void write_record(const nlohmann::json& record);
  void write_scalar(const std::string& tag, double value, int64_t step);
  // A histogram of `values` over `bins` equal-width bins between their minimum and maximum.
  void write_histogram(const std::string& tag, const std::vector<float>& values, int64_t step, int bins = 30);

  const std::filesystem::path& path() const { return path_; }

 private:
  void write_event(const std::string& serialized_event);

  std::filesystem::path path_;
  std::ofstream out_;
};

// Rewrites `path` (atomically) keeping its records whose Event step is at most `step`. Reading
// stops at the first record that is cut short or fails its CRC (the write a kill interrupted).
void truncate_event_file(const std::filesystem::path& path, int64_t step);

// The event files of a run directory, oldest first.
std::vector<std::filesystem::path> tensorboard_event_files(const std::filesystem::path& directory);

}  // namespace sparsecap::train
