#pragma once
// Typed device pointers of a tensor for our kernels' host entry points; nullptr for an undefined
// (optional) tensor. The caller has checked the dtype (require_float32) or the op fixes it.
#include <cstdint>

#include "engine/tensor.h"

namespace sparsecap::cuda {

inline const float* f32(const Tensor& t) { return t.defined() ? static_cast<const float*>(t.raw_data()) : nullptr; }
inline float* f32(Tensor& t) { return t.defined() ? static_cast<float*>(t.raw_data()) : nullptr; }
inline const int64_t* i64(const Tensor& t) {
  return t.defined() ? static_cast<const int64_t*>(t.raw_data()) : nullptr;
}
inline int64_t* i64(Tensor& t) { return t.defined() ? static_cast<int64_t*>(t.raw_data()) : nullptr; }

}  // namespace sparsecap::cuda
