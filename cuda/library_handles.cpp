// Lazy creation of the library handles, each bound to the device's stream.
#include "cuda/library_handles.h"

#include "cuda/runtime.h"

namespace sparsecap::cuda {

cublasHandle_t LibraryHandles::cublas() {
  if (!cublas_) {
    DeviceGuard guard(device_);
    cublasHandle_t handle = nullptr;
    SPARSECAP_CUBLAS_CHECK(cublasCreate(&handle));
    cublas_ = CublasHandle(handle);
    SPARSECAP_CUBLAS_CHECK(cublasSetStream(handle, stream_));
    // alpha and beta are passed from host memory.
    SPARSECAP_CUBLAS_CHECK(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST));
  }
  return cublas_.get();
}

cusparseHandle_t LibraryHandles::cusparse() {
  if (!cusparse_) {
    DeviceGuard guard(device_);
    cusparseHandle_t handle = nullptr;
    SPARSECAP_CUSPARSE_CHECK(cusparseCreate(&handle));
    cusparse_ = CusparseHandle(handle);
    SPARSECAP_CUSPARSE_CHECK(cusparseSetStream(handle, stream_));
  }
  return cusparse_.get();
}

#if SPARSECAP_WITH_CUDNN
cudnnHandle_t LibraryHandles::cudnn() {
  if (!cudnn_) {
    DeviceGuard guard(device_);
    cudnnHandle_t handle = nullptr;
    SPARSECAP_CUDNN_CHECK(cudnnCreate(&handle));
    cudnn_ = CudnnHandle(handle);
    SPARSECAP_CUDNN_CHECK(cudnnSetStream(handle, stream_));
  }
  return cudnn_.get();
}
#endif

}  // namespace sparsecap::cuda
