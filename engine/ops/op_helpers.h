#pragma once
// Small helpers shared by the op implementations in engine/ops (not part of the public API).
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"

namespace sparsecap::ops_detail {

inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }

// Inputs of one op must live on one device and share one floating dtype.
inline void check_same_device_and_dtype(const Tensor& a, const Tensor& b, const char* op) {
  SPARSECAP_CHECK(a.device() == b.device(), op, ": tensors on ", a.device().str(), " and ", b.device().str());
  SPARSECAP_CHECK(a.dtype() == b.dtype(), op, ": dtypes ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()),
                  " differ");
}

inline void check_floating(const Tensor& t, const char* op) {
  SPARSECAP_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, op, ": expected float32 or float64, got ",
                  dtype_name(t.dtype()));
}

// Product of the dims before / after `dim`.
inline int64_t outer_size(const Shape& shape, int64_t dim) {
  int64_t n = 1;
  for (int64_t i = 0; i < dim; ++i) n *= shape[static_cast<size_t>(i)];
  return n;
}
inline int64_t inner_size(const Shape& shape, int64_t dim) {
  int64_t n = 1;
  for (size_t i = static_cast<size_t>(dim) + 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

inline Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }

// Int64 indices on the host for data on another device: checked on the host against [0, bound)
// (`ignore` passes), with the backends' message "<op>: index V out of range [0, bound)", then
// copied to `device`. The caller runs the op inside IndicesCheckedOnHost, so the device does not
// check them again (its check waits for the GPU). Defined in indexing.cpp.
Tensor index_checked_on_host(const Tensor& index, Device device, int64_t bound, int64_t ignore, const char* op);

}  // namespace sparsecap::ops_detail
