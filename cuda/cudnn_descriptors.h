#pragma once
// RAII owners of cuDNN descriptors, shared by the convolution (cuda_convolution.cpp) and the
// batch-norm and pooling (cuda_batch_norm_pooling.cpp) calls. Only in builds with cuDNN.
#if SPARSECAP_WITH_CUDNN

#include <cstdint>
#include <limits>

#include "cuda/library_handles.h"

namespace sparsecap::cuda {

// One descriptor, created on construction and destroyed with the owner; not copyable.
template <typename Descriptor, cudnnStatus_t (*create)(Descriptor*), cudnnStatus_t (*destroy)(Descriptor)>
class CudnnDescriptor {
 public:
  CudnnDescriptor() { SPARSECAP_CUDNN_CHECK(create(&descriptor_)); }
  ~CudnnDescriptor() { destroy(descriptor_); }  // a failure at teardown is not actionable
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
  Descriptor get() const { return descriptor_; }

 private:
  Descriptor descriptor_ = nullptr;
};

// cuDNN's legacy API takes dimensions as int.
inline int cudnn_dimension(int64_t value) {
  SPARSECAP_CHECK(value >= 0 && value <= std::numeric_limits<int>::max(), "cuDNN: dimension ", value,
                  " does not fit a 32-bit int");
  return static_cast<int>(value);
}

// A dense NCHW float32 tensor.
class TensorDescriptor
    : public CudnnDescriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor> {
 public:
  TensorDescriptor(int64_t n, int64_t c, int64_t h, int64_t w) {
    SPARSECAP_CUDNN_CHECK(cudnnSetTensor4dDescriptor(get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, cudnn_dimension(n),
                                                     cudnn_dimension(c), cudnn_dimension(h), cudnn_dimension(w)));
  }
};

}  // namespace sparsecap::cuda

#endif  // SPARSECAP_WITH_CUDNN
