#pragma once
// Which device a run computes on: `device` in the run config and `--device` on the command line
// take "auto", "cpu", "cuda" or "cuda:N". "auto" is the first CUDA device when the build has CUDA
// and the runtime sees one, else the CPU; a CUDA request that cannot be met is an error, never a
// silent fall-back to the CPU.
#include <string>
#include <vector>

#include "cuda/cuda_runtime_info.h"
#include "engine/device.h"

namespace sparsecap::train {

struct DeviceChoice {
  Device device;
  std::string reason;  // why this device: "asked for", "first of 2 visible CUDA devices", ...
  // "cuda:0 (NVIDIA H200; first of 1 visible CUDA device)"
  std::string describe() const;
};

// The choice for `spec` given what the build and the runtime offer. Errors name the spec and say
// what is missing (a CPU-only build, no visible device, an index out of range).
DeviceChoice choose_device(const std::string& spec, bool built_with_cuda, const std::vector<cuda::DeviceInfo>& visible);

// The same for this process: cuda::built_with_cuda() and cuda::devices().
DeviceChoice choose_device(const std::string& spec);

// Throws unless `spec` is one of the accepted forms (for config validation; no runtime query).
void check_device_spec(const std::string& spec);

}  // namespace sparsecap::train
