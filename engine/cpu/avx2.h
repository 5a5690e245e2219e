#pragma once
// What the hand-written AVX2 + F16C kernels (csr_linear.cpp, sliced_multiply.cpp) share: the path
// for x86-64 CPUs without AVX-512 (AMD Zen 1-3, Intel Haswell to Comet Lake and the client parts
// after it). Like the AVX-512 code (avx512.h) they are compiled with a target attribute and chosen
// at run time, because the build does not assume -march (engine/CMakeLists.txt). AVX-512 code may
// call them too: every CPU with AVX-512 F has AVX2, FMA and F16C.
#include <cpuid.h>
#include <immintrin.h>

#include <cstdint>

// GCC 12's AVX-512 headers seed intrinsics with _mm512_undefined_*(), which -Wmaybe-uninitialized
// (and, in the sanitizer build, -Wuninitialized) reports as uninitialised use inside the headers
// (a false positive, GCC bug 105593); the AVX2 gathers' _mm256_undefined_ps() likewise.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define SPARSECAP_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace sparsecap::cpu {

// F16C from CPUID leaf 1 (clang 14's __builtin_cpu_supports does not know "f16c").
inline bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

// Whether this CPU has what SPARSECAP_AVX2 functions use (AVX2, FMA, F16C).
inline bool cpu_has_avx2() {
  static const bool supported =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
  return supported;
}

// All bits set in lanes 0 .. count - 1 and clear in the others (0 <= count <= 8): the lane mask
// of _mm256_maskload_ps and _mm256_maskstore_ps.
SPARSECAP_AVX2 inline __m256i first_lanes(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Stores lanes 0 .. count - 1 of v at p (count <= 8). A full vector takes a plain store: on AMD Zen
// a masked store is a long microcoded sequence.
SPARSECAP_AVX2 inline void store_first_lanes(float* p, __m256 v, int64_t count) {
  if (count == 8)
    _mm256_storeu_ps(p, v);
  else
    _mm256_maskstore_ps(p, first_lanes(count), v);
}

// r[i] lane j = M[i][j] becomes r[j] lane i = M[i][j]: unpack pairs of rows, shuffle within
// 128-bit lanes (then s[k] holds columns k and k + 4 of four rows), and join the 128-bit halves.
SPARSECAP_AVX2 inline void transpose_8x8(__m256 (&r)[8]) {
  __m256 t[8], s[8];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 2
  for (int g = 0; g < 2; ++g) {
    s[4 * g] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x20);
    r[4 + k] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x31);
  }
}

// dst[j][i] = src[i][j] for a tile of `rows` x `cols` (both at most 8; row strides src_stride and
// dst_stride): one masked load per source row, transpose_8x8, and for each j < cols one store of
// 8 lanes (lanes i >= rows hold zeros), so dst rows must have room for 8.
SPARSECAP_AVX2 inline void transpose_tile_8x8(const float* src, int64_t src_stride, int64_t rows, int64_t cols,
                                             float* dst, int64_t dst_stride) {
  const __m256i column_mask = first_lanes(cols);
  __m256 r[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)
    r[i] = i < rows ? _mm256_maskload_ps(src + i * src_stride, column_mask) : _mm256_setzero_ps();
  transpose_8x8(r);
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j)
    if (j < cols) _mm256_storeu_ps(dst + j * dst_stride, r[j]);
}

}  // namespace sparsecap::cpu
