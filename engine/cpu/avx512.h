#pragma once
// What the hand-written AVX-512 kernels (csr_linear.cpp, sliced_multiply.cpp) share. They are
// compiled with a target attribute and chosen at run time, because the build does not assume
// -march (engine/CMakeLists.txt): binaries stay baseline x86-64.
#include <immintrin.h>

#include <cstdint>

#include "engine/cpu/avx2.h"  // cpu_has_f16c, the GCC 12 diagnostics pragmas

#define SPARSECAP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))

namespace sparsecap::cpu {

// Whether this CPU has what SPARSECAP_AVX512 functions use (AVX-512 F/BW/VL, FMA, F16C), and the
// SPARSECAP_AVX2 functions they call.
inline bool cpu_has_avx512() {
  static const bool supported = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vl") && cpu_has_avx2();
  return supported;
}

// r[i] lane j = M[i][j] becomes r[j] lane i = M[i][j]: unpack pairs of rows, shuffle within
// 128-bit lanes (r[4g + k] lane L then holds column 4L + k of rows 4g .. 4g + 3), then gather the
// 128-bit lanes of each column across the four row groups.
SPARSECAP_AVX512 inline void transpose_16x16(__m512 (&r)[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    r[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    const __m512 s0 = _mm512_shuffle_f32x4(r[k], r[4 + k], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 s1 = _mm512_shuffle_f32x4(r[k], r[4 + k], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512 s2 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 s3 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], _MM_SHUFFLE(3, 1, 3, 1));
    t[k] = _mm512_shuffle_f32x4(s0, s2, _MM_SHUFFLE(2, 0, 2, 0));
    t[8 + k] = _mm512_shuffle_f32x4(s0, s2, _MM_SHUFFLE(3, 1, 3, 1));
    t[4 + k] = _mm512_shuffle_f32x4(s1, s3, _MM_SHUFFLE(2, 0, 2, 0));
    t[12 + k] = _mm512_shuffle_f32x4(s1, s3, _MM_SHUFFLE(3, 1, 3, 1));
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

// dst[j][i] = src[i][j] for a tile of `rows` x `cols` (both at most 16; row strides src_stride and
// dst_stride): one masked load per source row, transpose_16x16, and for each j < cols one store of
// the lanes in `lane_mask` (lanes i >= rows hold zeros).
SPARSECAP_AVX512 inline void transpose_tile(const float* src, int64_t src_stride, int64_t rows, int64_t cols,
                                            float* dst, int64_t dst_stride, __mmask16 lane_mask) {
  const __mmask16 column_mask = static_cast<__mmask16>((1u << cols) - 1);
  __m512 r[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i)
    r[i] = i < rows ? _mm512_maskz_loadu_ps(column_mask, src + i * src_stride) : _mm512_setzero_ps();
  transpose_16x16(r);
#pragma GCC unroll 16
  for (int j = 0; j < 16; ++j)
    if (j < cols) _mm512_mask_storeu_ps(dst + j * dst_stride, lane_mask, r[j]);
}

}  // namespace sparsecap::cpu
