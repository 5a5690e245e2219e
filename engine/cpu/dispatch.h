#pragma once
// Float dtype dispatch for the CPU backend's templated loops (float32 compute, float64 for checks).
#include "engine/error.h"
#include "engine/tensor.h"

namespace sparsecap::cpu {

template <typename Fn>
void dispatch_floating(DType dtype, const char* op, Fn&& fn) {
  switch (dtype) {
    case DType::F32: fn(float{}); return;
    case DType::F64: fn(double{}); return;
    default: throw Error(detail::concat(op, ": unsupported dtype ", dtype_name(dtype), " (float32 or float64)"));
  }
}

}  // namespace sparsecap::cpu
