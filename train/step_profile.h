#pragma once
// `sparsecap profile`: where a run's time goes, kernel by kernel. One training step (forward,
// backward, clipping, the optimizer and the pruning method's hooks, as Trainer::step runs it) and
// one decode step (StepwiseCaptioner::decode_step on an encoded batch widened to the beam) are
// timed call by call through engine/profiling/backend_profiler.h, beside the device's measured
// copy and GEMM rates (engine/profiling/device_rates.h). train/step_profile_report.h turns the
// result into the table and the JSON.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/profiling/backend_profiler.h"
#include "engine/profiling/device_rates.h"
#include "train/run_config.h"

namespace sparsecap::train {

struct StepProfileOptions {
  int64_t warmup_steps = 1;  // training steps, and decode steps, run before the profiled one
  int64_t beam_size = 3;     // decoder rows per image, as beam search widens them
  profiling::RateProbe rate_probe;
};

// One profiled step.
struct ProfiledStep {
  std::string name;         // "training step", "decode step"
  double wall_seconds = 0;  // on the host, from its first call until the device had finished it
  std::vector<profiling::KernelTotals> kernels;  // the most time first
  double kernel_seconds() const;                 // the kernels' time together
};

struct StepProfile {
  std::string device;     // "cpu", "cuda:0"
  std::string processor;  // the CPU's model and threads, or the GPU's name
  std::string model;      // model.type
  std::string pruning;    // pruning.method
  int64_t images = 0, captions_per_image = 0;  // of the training batch
  int64_t beam_size = 0;
  int64_t decode_rows = 0;                      // images x beam size
  int64_t warmup_steps = 0;
  profiling::DeviceRates rates;
  ProfiledStep training, decoding;
};

// Sets the run up as `sparsecap train` does (the synthetic set is generated when it is missing),
// in a temporary run directory removed at the end; measures the device's rates; runs the warm-up
// steps on the first training batch, then profiles one more training step on it and one decode
// step of its images.
StepProfile profile_steps(const RunConfig& config, const StepProfileOptions& options = {});

}  // namespace sparsecap::train
