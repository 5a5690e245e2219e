#pragma once
// The math functions the functors call, visible inside sparsecap::kernels. Without these
// using-declarations an unqualified exp(x) would find the engine's Tensor ops of the same name in
// the enclosing namespace. nvcc accepts the std:: overloads in device code.
#include <cmath>

namespace sparsecap::kernels {
using std::cos;
using std::exp;
using std::log;
using std::pow;
using std::sin;
using std::sqrt;
using std::tanh;
}  // namespace sparsecap::kernels
