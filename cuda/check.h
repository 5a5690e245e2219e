#pragma once
// One generic check for every CUDA-family status code: a failing call throws sparsecap::Error
// naming the call, the status and where it was made. Never exit(): the library reports, the
// caller (the CLI, a test) decides. The cuBLAS, cuSPARSE and cuDNN variants live in
// cuda/library_handles.h so that files without those libraries need not include their headers.
#include <cuda_runtime_api.h>

#include "engine/error.h"

namespace sparsecap::cuda::detail {

[[noreturn]] inline void throw_status(const char* library, const char* call, int status, const char* status_text,
                                      const char* file, int line) {
  throw Error(::sparsecap::detail::concat(library, " call failed: ", call, " returned ", status, " (", status_text,
                                          ") at ", file, ":", line));
}

}  // namespace sparsecap::cuda::detail

// SPARSECAP_CHECK_STATUS(library, call, success, to_text): evaluates `call` once; when the status
// differs from `success` throws with `to_text(status)`.
#define SPARSECAP_CHECK_STATUS(library, call, success, to_text)                                             \
  do {                                                                                                       \
    const auto sparsecap_status_ = (call);                                                                   \
    if (sparsecap_status_ != (success))                                                                      \
      ::sparsecap::cuda::detail::throw_status(library, #call, static_cast<int>(sparsecap_status_),           \
                                              to_text(sparsecap_status_), __FILE__, __LINE__);               \
  } while (0)

#define SPARSECAP_CUDA_CHECK(call) SPARSECAP_CHECK_STATUS("CUDA", call, cudaSuccess, cudaGetErrorString)
