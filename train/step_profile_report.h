#pragma once
// What `sparsecap profile` prints: a header with the device's reference rates and one table per
// profiled step (kernel, calls, time, share of the step, bytes or FLOPs counted, the rate they
// give, and that rate as a share of the device's copy or GEMM rate), or the same as JSON.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "train/step_profile.h"

namespace sparsecap::train {

// A kernel's derived columns.
struct KernelRow {
  double share = 0;                              // of the step's wall time
  std::optional<double> per_second;              // bytes or FLOPs per second; none without work or time
  std::optional<double> percent_of_reference;    // of the copy rate (bytes) or the GEMM rate (FLOPs)
  std::optional<std::string> reference;          // "copy" or "gemm"
};

KernelRow kernel_row(const profiling::KernelTotals& kernel, double step_seconds, const profiling::DeviceRates& rates);

nlohmann::json step_profile_to_json(const StepProfile& profile);

// The header and the two tables.
std::string format_step_profile(const StepProfile& profile);

}  // namespace sparsecap::train
