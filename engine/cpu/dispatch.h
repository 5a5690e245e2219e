#pragma once
// Float dtype dispatch for the CPU backend's templated loops (float32 compute, float64 for checks).
#include "engine/error.h"
#include "engine/tensor.h"

// Hot loops are compiled for baseline x86-64 and for AVX2 and AVX-512 (x86-64-v4), and the
// widest one the CPU supports is picked at load time (GCC function multi-versioning): the
// binaries stay portable and the exp/tanh polynomials keep up with memory bandwidth.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SPARSECAP_VECTOR_CLONES __attribute__((target_clones("default", "avx2", "arch=x86-64-v4")))
#else
#define SPARSECAP_VECTOR_CLONES
#endif

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
