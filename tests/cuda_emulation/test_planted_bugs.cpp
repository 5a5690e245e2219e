// The emulated suite fails on the bugs it exists to catch: kernels with a planted bug
// (planted_bug_kernels.cu) give results that the comparison with the CPU backend rejects, and
// under ThreadSanitizer (the *_tsan build) a racy kernel is reported as a data race.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "cuda/kernels/launch.cuh"
#include "engine/backend.h"
#include "engine/tensor.h"
#include "tests/cuda_emulation/planted_bug_kernels.h"

namespace sparsecap::testing {
namespace {

namespace emulation = sparsecap::cuda::emulation;
using cuda::planted::ReductionBug;

// Rows of 1000 positive values: blocks of 1024 threads (32 warps, the last one partly filled)
// where every warp holds a non-zero partial sum.
constexpr int64_t kRows = 4, kCols = 1000;

// The largest relative difference between the CPU's row sums and the planted kernel's.
double worst_row_sum_error(ReductionBug bug) {
  std::vector<float> in(kRows * kCols);
  for (size_t i = 0; i < in.size(); ++i) in[i] = 0.5f + static_cast<float>(i % 7);
  Tensor expected = Tensor::empty({kRows}), unused;
  backend_for(Device::cpu()).reduce(ReduceOp::Sum, from_vector(in, {kRows, kCols}), expected, unused, kRows, kCols, 1);
  std::vector<float> actual(kRows, -1.0f);
  cuda::planted::row_sum(bug, in.data(), actual.data(), kRows, kCols);
  const std::vector<float> reference = expected.to_vector<float>();
  double worst = 0;
  for (int64_t r = 0; r < kRows; ++r)
    worst = std::max(worst, std::fabs(double(reference[r]) - actual[r]) / std::fabs(double(reference[r])));
  return worst;
}

constexpr double kSumTolerance = 1e-5;

// Sets the emulated schedule for one test.
class ScheduleGuard {
 public:
  explicit ScheduleGuard(emulation::Schedule schedule) : saved_(emulation::schedule()) {
    emulation::set_schedule(schedule);
  }
  ~ScheduleGuard() { emulation::set_schedule(saved_); }

 private:
  emulation::Schedule saved_;
};

TEST(PlantedBugs, TheControlReductionMatchesTheCpu) {
  EXPECT_LE(worst_row_sum_error(ReductionBug::None), kSumTolerance);
}

TEST(PlantedBugs, AnOffByOneInTheBlockReductionFailsTheComparison) {
  EXPECT_GT(worst_row_sum_error(ReductionBug::OffByOne), kSumTolerance)
      << "the reduction that drops the last warp's partial sum passed the comparison";
}

// In a warp-ordered schedule (a legal CUDA schedule) warp 0 reads the partial sums before the
// other warps have written them, every time: the missing barrier fails deterministically.
TEST(PlantedBugs, AMissingSyncthreadsFailsTheComparisonInAWarpOrderedSchedule) {
#ifdef SPARSECAP_EMULATION_TSAN
  // The same kernel also races inside a warp (lane 1 may read before lane 0 writes), which
  // ThreadSanitizer would report in this process: PlantedRaces below checks that report.
  GTEST_SKIP() << "under ThreadSanitizer the missing barrier is PlantedRaces.ThreadSanitizerReportsAMissingSyncthreads";
#endif
  ScheduleGuard in_order(emulation::Schedule::WarpsInOrder);
  EXPECT_GT(worst_row_sum_error(ReductionBug::MissingBarrier), kSumTolerance)
      << "the reduction without __syncthreads() passed the comparison";
  // The control still passes under the same schedule: the failure is the bug's.
  EXPECT_LE(worst_row_sum_error(ReductionBug::None), kSumTolerance);
}

#ifdef SPARSECAP_EMULATION_TSAN
// Runs `body` in a child process (gtest's threadsafe death test: the binary re-executed) under
// ThreadSanitizer with halt_on_error: the child must die with TSan's exit code and report.
template <typename Body>
void expect_thread_sanitizer_report(Body body) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const char* saved = std::getenv("TSAN_OPTIONS");
  const std::string saved_options = saved ? saved : "";
  setenv("TSAN_OPTIONS", "halt_on_error=1 exitcode=66", 1);
  EXPECT_EXIT(body(), ::testing::ExitedWithCode(66), "WARNING: ThreadSanitizer: data race");
  if (saved)
    setenv("TSAN_OPTIONS", saved_options.c_str(), 1);
  else
    unsetenv("TSAN_OPTIONS");
}

TEST(PlantedRaces, ThreadSanitizerReportsAMissingSyncthreads) {
  expect_thread_sanitizer_report([] {
    ScheduleGuard concurrent(emulation::Schedule::Concurrent);
    worst_row_sum_error(ReductionBug::MissingBarrier);
    std::exit(0);  // no report: the death test fails on the exit code
  });
}

TEST(PlantedRaces, ThreadSanitizerReportsAScatterAddWithoutAtomics) {
  expect_thread_sanitizer_report([] {
    ScheduleGuard concurrent(emulation::Schedule::Concurrent);
    const int64_t count = 512;
    std::vector<float> src(count, 1.0f), table(4, 0.0f);
    std::vector<int64_t> index(count);
    for (int64_t i = 0; i < count; ++i) index[i] = i % 4;
    cuda::planted::racy_scatter_add(src.data(), index.data(), table.data(), count);
    std::exit(0);
  });
}
#else
TEST(PlantedRaces, NeedTheThreadSanitizerBuild) {
  GTEST_SKIP() << "the planted races are checked by test_emulated_kernels_tsan (ThreadSanitizer build)";
}
#endif

}  // namespace
}  // namespace sparsecap::testing
