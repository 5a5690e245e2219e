// Vectorised Philox4x32-10 (see philox_fill.h). The vector paths keep one Philox block per 64-bit
// lane, structure of arrays (one register per counter word): vpmuludq multiplies the low 32 bits
// of each lane into a full 64-bit product, so the high word is one shift away and the low word is
// the product itself. The upper halves of the lanes carry garbage between rounds, which is
// harmless: vpmuludq reads only the low halves, and the final interleave keeps only them. That
// interleave puts word k of block b at element 4b + k, the order kernels::philox_bits defines.
// The AVX2 and AVX-512 code is compiled with target attributes and chosen at run time, because
// the build does not assume -march (engine/CMakeLists.txt).
#include "engine/cpu/philox_fill.h"

#include "engine/kernels/philox.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define SPARSECAP_PHILOX_X86 1
// GCC 12's AVX-512 headers seed intrinsics with _mm512_undefined_*(), which -Wmaybe-uninitialized
// (and, in the sanitizer build, -Wuninitialized) reports as uninitialised use inside the headers
// (a false positive, GCC bug 105593).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#endif

namespace sparsecap::cpu {

namespace {

using kernels::kPhiloxMul0;
using kernels::kPhiloxMul1;
using kernels::kPhiloxRounds;
using kernels::kPhiloxWeyl0;
using kernels::kPhiloxWeyl1;
// Element offsets are 64-bit and wrap at 2^64, so block indices (offset / 4) wrap at 2^62.
constexpr uint64_t kBlockMask = (uint64_t{1} << 62) - 1;

// Blocks first_block .. first_block + blocks - 1, four words each, to out.
void fill_blocks_portable(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t blocks, uint32_t* out) {
  for (int64_t b = 0; b < blocks; ++b) {
    const uint64_t index = (first_block + static_cast<uint64_t>(b)) & kBlockMask;
    const kernels::Philox4x32 block = kernels::philox_block(seed, stream, index);
    for (int word = 0; word < 4; ++word) out[4 * b + word] = block.v[word];
  }
}

#if SPARSECAP_PHILOX_X86

// The vector paths fill whole steps of several groups and return how many blocks they filled; the
// portable loop does the rest. A group's ten rounds are one dependence chain (multiply, shift,
// xor), so a step advances its groups round by round and the core overlaps their multiplies
// instead of waiting out each chain's latency. AVX2 has 16 registers, room for two groups' four
// words; AVX-512 has 32 (four groups measured fastest on Zen 5).
constexpr int kAvx512Groups = 4, kAvx2Groups = 2;

// A group is eight blocks, one per 64-bit lane of a zmm register.
__attribute__((target("avx512f"))) int64_t fill_blocks_avx512(uint64_t seed, uint64_t stream, uint64_t first_block,
                                                              int64_t blocks, uint32_t* out) {
  constexpr int64_t kStep = 8 * kAvx512Groups;
  const __m512i mul0 = _mm512_set1_epi64(kPhiloxMul0), mul1 = _mm512_set1_epi64(kPhiloxMul1);
  const __m512i stream_low = _mm512_set1_epi64(static_cast<uint32_t>(stream));
  const __m512i stream_high = _mm512_set1_epi64(static_cast<uint32_t>(stream >> 32));
  const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  const __m512i block_mask = _mm512_set1_epi64(static_cast<int64_t>(kBlockMask));
  // Qword j of (words 0-1, words 2-3) holds block j's words (0, 1) and (2, 3): interleave them.
  const __m512i blocks_0_to_3 = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
  const __m512i blocks_4_to_7 = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
  constexpr int kXor3 = 0x96;  // vpternlog truth table of a ^ b ^ c
  const int64_t whole = blocks - blocks % kStep;
  for (int64_t b = 0; b < whole; b += kStep) {
    __m512i c0[kAvx512Groups], c1[kAvx512Groups], c2[kAvx512Groups], c3[kAvx512Groups];
    for (int group = 0; group < kAvx512Groups; ++group) {
      const __m512i first = _mm512_set1_epi64(static_cast<int64_t>(first_block + b + 8 * group));
      const __m512i counter = _mm512_and_si512(_mm512_add_epi64(first, lane), block_mask);
      c0[group] = counter;
      c1[group] = _mm512_srli_epi64(counter, 32);
      c2[group] = stream_low;
      c3[group] = stream_high;
    }
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < kPhiloxRounds; ++round) {
      const __m512i key0 = _mm512_set1_epi32(static_cast<int>(k0)), key1 = _mm512_set1_epi32(static_cast<int>(k1));
      for (int group = 0; group < kAvx512Groups; ++group) {
        const __m512i product0 = _mm512_mul_epu32(c0[group], mul0), product1 = _mm512_mul_epu32(c2[group], mul1);
        c0[group] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(product1, 32), c1[group], key0, kXor3);
        c2[group] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(product0, 32), c3[group], key1, kXor3);
        c1[group] = product1;
        c3[group] = product0;
      }
      k0 += kPhiloxWeyl0;
      k1 += kPhiloxWeyl1;
    }
    for (int group = 0; group < kAvx512Groups; ++group) {
      const __m512i words01 = _mm512_mask_blend_epi32(0xAAAA, c0[group], _mm512_slli_epi64(c1[group], 32));
      const __m512i words23 = _mm512_mask_blend_epi32(0xAAAA, c2[group], _mm512_slli_epi64(c3[group], 32));
      uint32_t* group_out = out + 4 * (b + 8 * group);
      _mm512_storeu_si512(group_out, _mm512_permutex2var_epi64(words01, blocks_0_to_3, words23));
      _mm512_storeu_si512(group_out + 16, _mm512_permutex2var_epi64(words01, blocks_4_to_7, words23));
    }
  }
  return whole;
}

// A group is four blocks, one per 64-bit lane of a ymm register.
__attribute__((target("avx2"))) int64_t fill_blocks_avx2(uint64_t seed, uint64_t stream, uint64_t first_block,
                                                         int64_t blocks, uint32_t* out) {
  constexpr int64_t kStep = 4 * kAvx2Groups;
  const __m256i mul0 = _mm256_set1_epi64x(kPhiloxMul0), mul1 = _mm256_set1_epi64x(kPhiloxMul1);
  const __m256i stream_low = _mm256_set1_epi64x(static_cast<uint32_t>(stream));
  const __m256i stream_high = _mm256_set1_epi64x(static_cast<uint32_t>(stream >> 32));
  const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
  const __m256i block_mask = _mm256_set1_epi64x(static_cast<int64_t>(kBlockMask));
  const int64_t whole = blocks - blocks % kStep;
  for (int64_t b = 0; b < whole; b += kStep) {
    __m256i c0[kAvx2Groups], c1[kAvx2Groups], c2[kAvx2Groups], c3[kAvx2Groups];
    for (int group = 0; group < kAvx2Groups; ++group) {
      const __m256i first = _mm256_set1_epi64x(static_cast<int64_t>(first_block + b + 4 * group));
      const __m256i counter = _mm256_and_si256(_mm256_add_epi64(first, lane), block_mask);
      c0[group] = counter;
      c1[group] = _mm256_srli_epi64(counter, 32);
      c2[group] = stream_low;
      c3[group] = stream_high;
    }
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < kPhiloxRounds; ++round) {
      const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0)), key1 = _mm256_set1_epi32(static_cast<int>(k1));
      for (int group = 0; group < kAvx2Groups; ++group) {
        const __m256i product0 = _mm256_mul_epu32(c0[group], mul0), product1 = _mm256_mul_epu32(c2[group], mul1);
        c0[group] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(product1, 32), c1[group]), key0);
        c2[group] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(product0, 32), c3[group]), key1);
        c1[group] = product1;
        c3[group] = product0;
      }
      k0 += kPhiloxWeyl0;
      k1 += kPhiloxWeyl1;
    }
    for (int group = 0; group < kAvx2Groups; ++group) {
      const __m256i words01 = _mm256_blend_epi32(c0[group], _mm256_slli_epi64(c1[group], 32), 0xAA);
      const __m256i words23 = _mm256_blend_epi32(c2[group], _mm256_slli_epi64(c3[group], 32), 0xAA);
      // unpack interleaves within 128-bit halves: (block 0, block 2) and (block 1, block 3).
      const __m256i even = _mm256_unpacklo_epi64(words01, words23), odd = _mm256_unpackhi_epi64(words01, words23);
      __m256i* group_out = reinterpret_cast<__m256i*>(out + 4 * (b + 4 * group));
      _mm256_storeu_si256(group_out, _mm256_permute2x128_si256(even, odd, 0x20));
      _mm256_storeu_si256(group_out + 1, _mm256_permute2x128_si256(even, odd, 0x31));
    }
  }
  return whole;
}

#endif  // SPARSECAP_PHILOX_X86

}  // namespace

const char* philox_path_name(PhiloxPath path) {
  switch (path) {
    case PhiloxPath::kPortable: return "portable";
    case PhiloxPath::kAvx2: return "avx2";
    case PhiloxPath::kAvx512: return "avx512";
  }
  return "unknown";
}

bool philox_path_available(PhiloxPath path) {
  switch (path) {
    case PhiloxPath::kPortable: return true;
#if SPARSECAP_PHILOX_X86
    case PhiloxPath::kAvx2: return __builtin_cpu_supports("avx2");
    case PhiloxPath::kAvx512: return __builtin_cpu_supports("avx512f");
#else
    case PhiloxPath::kAvx2:
    case PhiloxPath::kAvx512: return false;
#endif
  }
  return false;
}

PhiloxPath philox_best_path() {
  static const PhiloxPath best = philox_path_available(PhiloxPath::kAvx512) ? PhiloxPath::kAvx512
                                 : philox_path_available(PhiloxPath::kAvx2) ? PhiloxPath::kAvx2
                                                                            : PhiloxPath::kPortable;
  return best;
}

void philox_fill(PhiloxPath path, uint64_t seed, uint64_t stream, uint64_t offset, int64_t count, uint32_t* out) {
  // Elements before the first block boundary, then whole blocks, then the elements after the last.
  int64_t j = 0;
  for (; j < count && (offset + static_cast<uint64_t>(j)) % 4 != 0; ++j)
    out[j] = kernels::philox_bits(seed, stream, offset + static_cast<uint64_t>(j));
  const uint64_t first_block = (offset + static_cast<uint64_t>(j)) / 4;
  const int64_t blocks = (count - j) / 4;
  int64_t vectorised = 0;
#if SPARSECAP_PHILOX_X86
  if (path == PhiloxPath::kAvx512) vectorised = fill_blocks_avx512(seed, stream, first_block, blocks, out + j);
  if (path == PhiloxPath::kAvx2) vectorised = fill_blocks_avx2(seed, stream, first_block, blocks, out + j);
#else
  (void)path;
#endif
  fill_blocks_portable(seed, stream, first_block + static_cast<uint64_t>(vectorised), blocks - vectorised,
                       out + j + 4 * vectorised);
  for (j += 4 * blocks; j < count; ++j) out[j] = kernels::philox_bits(seed, stream, offset + static_cast<uint64_t>(j));
}

}  // namespace sparsecap::cpu
