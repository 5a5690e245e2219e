#pragma once
// The arithmetic of every elementwise op, written once. The CPU backend loops over these functors;
// the CUDA backend launches grid-stride kernels over the same functors. Each table below is the
// single list of ops of its arity: backends instantiate their dispatch from it.

#include "engine/kernels/hd.h"
#include "engine/kernels/math.h"

namespace sparsecap::kernels {

// Two scalar parameters travel with every op (pow's exponent, clamp's bounds, scale factors).
struct ScalarParams {
  double a = 0.0;
  double b = 0.0;
};

// ---- unary: y = f(x) ---------------------------------------------------------
template <typename T> struct Neg     { HD T operator()(T x, ScalarParams) const { return -x; } };
template <typename T> struct Exp     { HD T operator()(T x, ScalarParams) const { return exp(x); } };
template <typename T> struct Log     { HD T operator()(T x, ScalarParams) const { return log(x); } };
template <typename T> struct Sqrt    { HD T operator()(T x, ScalarParams) const { return sqrt(x); } };
template <typename T> struct Abs     { HD T operator()(T x, ScalarParams) const { return x < T(0) ? -x : x; } };
template <typename T> struct Sigmoid {
  // exp of a non-positive argument only (no overflow), one exp and no branch (the CPU loop
  // vectorises): with e = exp(-|x|), σ(x) = 1/(1+e) for x >= 0 and e/(1+e) otherwise.
  HD T operator()(T x, ScalarParams) const {
    const T e = exp(x < T(0) ? x : -x);
    const T s = T(1) / (T(1) + e);
    return x >= T(0) ? s : e * s;
  }
};
template <typename T> struct Tanh    { HD T operator()(T x, ScalarParams) const { return tanh(x); } };
template <typename T> struct Relu    { HD T operator()(T x, ScalarParams) const { return x > T(0) ? x : T(0); } };
template <typename T> struct Pow     { HD T operator()(T x, ScalarParams p) const { return pow(x, T(p.a)); } };
template <typename T> struct Clamp   {
  HD T operator()(T x, ScalarParams p) const { return x < T(p.a) ? T(p.a) : (x > T(p.b) ? T(p.b) : x); }
};
// y = a * x + b: scaling, shifting and scalar arithmetic without a broadcast tensor.
template <typename T> struct Affine  { HD T operator()(T x, ScalarParams p) const { return T(p.a) * x + T(p.b); } };
// 1 where x > a (used for masks and thresholding), else 0.
template <typename T> struct Greater { HD T operator()(T x, ScalarParams p) const { return x > T(p.a) ? T(1) : T(0); } };

#define SPARSECAP_UNARY_OPS(X) \
  X(Neg)                       \
  X(Exp)                       \
  X(Log)                       \
  X(Sqrt)                      \
  X(Abs)                       \
  X(Sigmoid)                   \
  X(Tanh)                      \
  X(Relu)                      \
  X(Pow)                       \
  X(Clamp)                     \
  X(Affine)                    \
  X(Greater)

// ---- binary: z = f(x, y), with broadcasting handled by the caller's indexing --------------
template <typename T> struct Add { HD T operator()(T x, T y, ScalarParams) const { return x + y; } };
template <typename T> struct Sub { HD T operator()(T x, T y, ScalarParams) const { return x - y; } };
template <typename T> struct Mul { HD T operator()(T x, T y, ScalarParams) const { return x * y; } };
template <typename T> struct Div { HD T operator()(T x, T y, ScalarParams) const { return x / y; } };
template <typename T> struct Maximum { HD T operator()(T x, T y, ScalarParams) const { return x > y ? x : y; } };
// Gradients that need the forward's input or output: (dy, saved) -> dx.
template <typename T> struct SigmoidGrad { HD T operator()(T dy, T y, ScalarParams) const { return dy * y * (T(1) - y); } };
template <typename T> struct TanhGrad    { HD T operator()(T dy, T y, ScalarParams) const { return dy * (T(1) - y * y); } };
template <typename T> struct ReluGrad    { HD T operator()(T dy, T x, ScalarParams) const { return x > T(0) ? dy : T(0); } };
template <typename T> struct AbsGrad     {
  HD T operator()(T dy, T x, ScalarParams) const { return x > T(0) ? dy : (x < T(0) ? -dy : T(0)); }
};
template <typename T> struct PowGrad     {
  HD T operator()(T dy, T x, ScalarParams p) const { return dy * T(p.a) * pow(x, T(p.a) - T(1)); }
};
template <typename T> struct ClampGrad   {
  HD T operator()(T dy, T x, ScalarParams p) const { return (x < T(p.a) || x > T(p.b)) ? T(0) : dy; }
};
template <typename T> struct SqrtGrad    { HD T operator()(T dy, T y, ScalarParams) const { return dy / (T(2) * y); } };

#define SPARSECAP_BINARY_OPS(X) \
  X(Add)                        \
  X(Sub)                        \
  X(Mul)                        \
  X(Div)                        \
  X(Maximum)                    \
  X(SigmoidGrad)                \
  X(TanhGrad)                   \
  X(ReluGrad)                   \
  X(AbsGrad)                    \
  X(PowGrad)                    \
  X(ClampGrad)                  \
  X(SqrtGrad)

enum class UnaryOp {
#define SPARSECAP_ENUM_ENTRY(name) name,
  SPARSECAP_UNARY_OPS(SPARSECAP_ENUM_ENTRY)
#undef SPARSECAP_ENUM_ENTRY
};

enum class BinaryOp {
#define SPARSECAP_ENUM_ENTRY(name) name,
  SPARSECAP_BINARY_OPS(SPARSECAP_ENUM_ENTRY)
#undef SPARSECAP_ENUM_ENTRY
};

}  // namespace sparsecap::kernels
