#pragma once
// The run's log.jsonl: one JSON record per line, each with the "step" it describes, flushed as it
// is written. A resumed run continues the file from its checkpoint: records of steps after the
// checkpoint (written by a session that was killed before it saved again) and a torn last line
// are dropped first, so every step appears once.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

namespace sparsecap::train {

class TrainingLog {
 public:
  // A new log (any old file is replaced), or with `resume_step` the existing one cut back to the
  // records of steps <= resume_step. Errors name the file.
  TrainingLog(const std::filesystem::path& path, std::optional<int64_t> resume_step);

  void write(const nlohmann::json& record);

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

// Rewrites `path` (atomically) keeping the records whose "step" is at most `step`, in order. A last
// line that is not valid JSON (the write a kill interrupted) is dropped; an invalid line elsewhere
// is an error naming the file and the line.
void truncate_log_after(const std::filesystem::path& path, int64_t step);

}  // namespace sparsecap::train
