#include "engine/backend.h"

#include "cuda/cuda_runtime_info.h"
#include "engine/cpu/cpu_backend.h"

namespace sparsecap {

Backend& backend_for(Device device) {
  if (device.is_cpu()) return cpu::cpu_backend();
  return cuda::backend(device.index);
}

}  // namespace sparsecap
