#pragma once
// The math functions the functors call, as functions of sparsecap::kernels: without them an
// unqualified exp(x) would find the engine's Tensor ops of the same name in the enclosing
// namespace. float exp and tanh are our own polynomials (Cephes' expf/tanhf coefficients, ~1 ulp)
// written without library calls or branches, so the compiler vectorises the CPU loops that use
// them (libm's scalar expf/tanhf were a fifth of a captioner's training step) and nvcc compiles
// the same arithmetic for the GPU. double keeps the library functions: gradient checks need them.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "engine/kernels/hd.h"

namespace sparsecap::kernels {

using std::cos;
using std::log;
using std::pow;
using std::sin;
using std::sqrt;

HD float float_from_bits(uint32_t bits) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(bits);
#else
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

HD uint32_t bits_from_float(float value) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(value);
#else
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

HD double exp(double x) { return std::exp(x); }
HD double tanh(double x) { return std::tanh(x); }

// e^x = 2^n · e^r with n = round(x / ln 2) and |r| <= ln(2) / 2. Rounding adds 1.5 · 2^23, which
// leaves n in the low mantissa bits (no float-to-int conversion: NaN stays well defined).
HD float exp(float x) {
  constexpr float kRoundingShift = 12582912.0f;  // 1.5 · 2^23
  const float shifted = x * 1.44269504088896341f + kRoundingShift;
  const float n = shifted - kRoundingShift;
  const uint32_t n_bits = bits_from_float(shifted) - bits_from_float(kRoundingShift);  // n mod 2^32
  float r = x - n * 0.693359375f;                // ln 2 in two parts: the first is exact in float
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^(n-1), then · 2: keeps 2^n representable up to n = 128 so results near FLT_MAX stay finite.
  const float half_scale = float_from_bits((n_bits + 126u) << 23);
  const float y = p * half_scale * 2.0f;
  return x < -87.0f ? 0.0f : (x > 88.72283905f ? INFINITY : y);
}

// Odd polynomial near 0 (where 1 − 2/(e^2x + 1) would cancel), the exp form elsewhere.
HD float tanh(float x) {
  const float magnitude = x < 0.0f ? -x : x;
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float near_zero = p * z * x + x;
  const float far = 1.0f - 2.0f / (exp(2.0f * magnitude) + 1.0f);
  return magnitude < 0.625f ? near_zero : (x < 0.0f ? -far : far);
}

}  // namespace sparsecap::kernels
