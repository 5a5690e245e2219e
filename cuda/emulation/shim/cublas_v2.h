#pragma once
// Emulation build only: the cuBLAS header <cublas_v2.h> as the host layer sees it there. cuBLAS
// is not emulated (see cuda/emulation/vendor_not_emulated.h): creating a handle fails, so every
// GEMM reports "cuBLAS ... is not emulated" instead of running.
#include <library_types.h>

#include "cuda/emulation/vendor_not_emulated.h"

enum cublasStatus_t : int { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_NOT_SUPPORTED = 15 };
enum cublasOperation_t : int { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cublasPointerMode_t : int { CUBLAS_POINTER_MODE_HOST = 0, CUBLAS_POINTER_MODE_DEVICE = 1 };
enum cublasComputeType_t : int {
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
  CUBLAS_COMPUTE_64F = 70,
};
enum cublasGemmAlgo_t : int { CUBLAS_GEMM_DEFAULT = -1 };
struct cublasContext;  // never defined: no handle is ever created
using cublasHandle_t = cublasContext*;

inline const char* cublasGetStatusString(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS"
                                         : "CUBLAS_STATUS_NOT_SUPPORTED: cuBLAS " SPARSECAP_NOT_EMULATED_PHRASE;
}
// An exact signature: LibraryHandle takes the destroy function as a template argument.
inline cublasStatus_t cublasDestroy_v2(cublasHandle_t) { return CUBLAS_STATUS_NOT_SUPPORTED; }
SPARSECAP_NOT_EMULATED(cublasStatus_t, CUBLAS_STATUS_NOT_SUPPORTED, cublasCreate)
SPARSECAP_NOT_EMULATED(cublasStatus_t, CUBLAS_STATUS_NOT_SUPPORTED, cublasSetStream)
SPARSECAP_NOT_EMULATED(cublasStatus_t, CUBLAS_STATUS_NOT_SUPPORTED, cublasSetPointerMode)
SPARSECAP_NOT_EMULATED(cublasStatus_t, CUBLAS_STATUS_NOT_SUPPORTED, cublasGemmStridedBatchedEx)
