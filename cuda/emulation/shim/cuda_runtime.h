#pragma once
// Emulation build only: the CUDA header <cuda_runtime.h> as the emulated kernels see it (this directory
// is on their include path instead of the CUDA toolkit's; see cuda/emulation/cuda_emulation.h).
// CUDA headers without a file here (cub/, cublas_v2.h, ...) are not emulated and do not compile.
#include "cuda/emulation/cuda_emulation.h"
