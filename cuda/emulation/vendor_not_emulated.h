#pragma once
// Emulation build only: what the shim headers of the vendor libraries (shim/cublas_v2.h,
// shim/cusparse.h, shim/library_types.h) share. cuBLAS, cuSPARSE, cuDNN and CUB are NVIDIA's
// compiled GPU code: the emulation does not emulate them and never substitutes a result for them.
// Their shims declare the types and constants the host layer names, and every function fails
// with a NOT_SUPPORTED status whose text contains cuda::kNotEmulatedPhrase; the host layer's
// check macros turn it into an error, and the emulated op suite skips such an op visibly.
#include "cuda/cuda_runtime_info.h"
#include "cuda/emulation/cuda_emulation.h"

// SPARSECAP_NOT_EMULATED(status_type, failure, name): a function `name` taking any arguments
// (the real signatures need not be copied) that returns `failure` and does nothing else.
#define SPARSECAP_NOT_EMULATED(status_type, failure, name) \
  template <typename... Arguments>                          \
  inline status_type name(Arguments...) {                   \
    return failure;                                         \
  }
