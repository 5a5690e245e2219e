#pragma once
// A console reporter that also remembers each benchmark's time per iteration, so a program can
// print, at the end of the same run, ratios against a named baseline.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace sparsecap::bench {

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs)
      if (run.run_type == Run::RT_Iteration && !run.error_occurred)
        seconds_[registered_name(run.benchmark_name())] = run.GetAdjustedRealTime() * multiplier(run.time_unit);
    ConsoleReporter::ReportRuns(runs);
  }

  // Time of `name` in seconds, or a negative value when it did not run.
  double seconds(const std::string& name) const {
    const auto it = seconds_.find(name);
    return it == seconds_.end() ? -1.0 : it->second;
  }

  // Prints "label: baseline_time / candidate_time" (>1: the candidate is faster).
  void print_speedup(const std::string& label, const std::string& candidate, const std::string& baseline) const {
    const double c = seconds(candidate), b = seconds(baseline);
    if (c > 0 && b > 0) std::printf("  %-60s %8.3fx\n", label.c_str(), b / c);
  }

 private:
  // The name as registered: Google Benchmark appends "/real_time" for UseRealTime() benchmarks
  // and "/manual_time" for UseManualTime() ones (the GPU benchmarks, timed with CUDA events).
  static std::string registered_name(std::string name) {
    for (const std::string suffix : {"/real_time", "/manual_time"})
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        name.resize(name.size() - suffix.size());
    return name;
  }

  static double multiplier(benchmark::TimeUnit unit) {
    switch (unit) {
      case benchmark::kNanosecond: return 1e-9;
      case benchmark::kMicrosecond: return 1e-6;
      case benchmark::kMillisecond: return 1e-3;
      case benchmark::kSecond: return 1.0;
    }
    return 1.0;
  }
  std::map<std::string, double> seconds_;
};

// With --benchmark_repetitions=N the ratios use each benchmark's fastest repetition: on a shared
// machine the slower ones measure the other load more than the code. RatioReporter keeps the
// last iteration run it is shown, so the fastest one is moved behind the others.
class FastestRepetitionReporter : public RatioReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> ordered = runs;
    auto is_iteration = [](const Run& run) { return run.run_type == Run::RT_Iteration && !run.error_occurred; };
    const auto iterations_end = std::stable_partition(ordered.begin(), ordered.end(), is_iteration);
    const auto fastest = std::min_element(ordered.begin(), iterations_end, [](const Run& a, const Run& b) {
      return a.GetAdjustedRealTime() < b.GetAdjustedRealTime();
    });
    if (fastest != iterations_end) std::rotate(fastest, fastest + 1, iterations_end);
    RatioReporter::ReportRuns(ordered);
  }
};

// benchmark::Initialize with `repetitions` repetitions of each benchmark unless the command line
// asks for another number: with FastestRepetitionReporter the ratios use the fastest of them.
inline void initialize_with_repetitions(int argc, char** argv, int repetitions = 3) {
  std::vector<char*> args(argv, argv + argc);
  std::string flag = "--benchmark_repetitions=" + std::to_string(repetitions);
  if (std::none_of(args.begin(), args.end(),
                   [](const char* a) { return std::string(a).rfind("--benchmark_repetitions", 0) == 0; }))
    args.insert(args.begin() + 1, flag.data());
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
}

}  // namespace sparsecap::bench
