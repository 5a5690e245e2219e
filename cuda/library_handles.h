#pragma once
// RAII owners of the cuBLAS, cuSPARSE and cuDNN handles of one device, created on first use and
// bound to the device's stream, and the check macros for those libraries' status codes.
#include <cublas_v2.h>
#include <cusparse.h>

#include <memory>

#include "cuda/check.h"

#if SPARSECAP_WITH_CUDNN
#include <cudnn.h>
#endif

#define SPARSECAP_CUBLAS_CHECK(call) \
  SPARSECAP_CHECK_STATUS("cuBLAS", call, CUBLAS_STATUS_SUCCESS, cublasGetStatusString)
#define SPARSECAP_CUSPARSE_CHECK(call) \
  SPARSECAP_CHECK_STATUS("cuSPARSE", call, CUSPARSE_STATUS_SUCCESS, cusparseGetErrorString)
#if SPARSECAP_WITH_CUDNN
#define SPARSECAP_CUDNN_CHECK(call) SPARSECAP_CHECK_STATUS("cuDNN", call, CUDNN_STATUS_SUCCESS, cudnnGetErrorString)
#endif

namespace sparsecap::cuda {

// A library handle plus the function that destroys it; move-only.
template <typename Handle, typename Status, Status (*destroy)(Handle)>
class LibraryHandle {
 public:
  LibraryHandle() = default;
  explicit LibraryHandle(Handle handle) : handle_(handle) {}
  ~LibraryHandle() {
    if (handle_) destroy(handle_);  // a failure at teardown is not actionable
  }
  LibraryHandle(LibraryHandle&& other) noexcept : handle_(other.handle_) { other.handle_ = nullptr; }
  LibraryHandle& operator=(LibraryHandle&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  LibraryHandle(const LibraryHandle&) = delete;
  LibraryHandle& operator=(const LibraryHandle&) = delete;
  Handle get() const { return handle_; }
  explicit operator bool() const { return handle_ != nullptr; }

 private:
  Handle handle_ = nullptr;
};

using CublasHandle = LibraryHandle<cublasHandle_t, cublasStatus_t, cublasDestroy_v2>;
using CusparseHandle = LibraryHandle<cusparseHandle_t, cusparseStatus_t, cusparseDestroy>;
#if SPARSECAP_WITH_CUDNN
using CudnnHandle = LibraryHandle<cudnnHandle_t, cudnnStatus_t, cudnnDestroy>;
#endif

// The handles of one device, each created on first request (creating a cuDNN handle loads
// several hundred MB of kernels; a model without convolutions never pays for it).
class LibraryHandles {
 public:
  LibraryHandles(int device, cudaStream_t stream) : device_(device), stream_(stream) {}
  cublasHandle_t cublas();
  cusparseHandle_t cusparse();
#if SPARSECAP_WITH_CUDNN
  cudnnHandle_t cudnn();
#endif

 private:
  int device_;
  cudaStream_t stream_;
  CublasHandle cublas_;
  CusparseHandle cusparse_;
#if SPARSECAP_WITH_CUDNN
  CudnnHandle cudnn_;
#endif
};

}  // namespace sparsecap::cuda
