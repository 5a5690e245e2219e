#pragma once
// A one-line progress bar with throughput and ETA on stderr. On a terminal it redraws in place;
// otherwise (logs, CI) it prints a line at most every `interval_seconds`.
#include <chrono>
#include <cstdint>
#include <string>

namespace sparsecap::train {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, double interval_seconds = 10.0);
  // `done` out of total, with a short status ("loss 2.31 sparsity 0.42").
  void update(int64_t done, const std::string& status);
  void finish();

 private:
  std::string label_;
  int64_t total_;
  int64_t first_done_ = -1;
  double interval_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

std::string format_duration(double seconds);  // "4m10s"

}  // namespace sparsecap::train
