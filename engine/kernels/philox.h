#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
// Counter-based: a draw is a pure function of (key, counter), so CPU and GPU produce the same bits
// for the same (seed, stream, offset) and a resumed run replays exactly.
//
// sparsecap's mapping: key = seed (64 bits); counter = (offset / 4 as 64 bits, stream as 64 bits);
// element `offset` of a fill takes lane offset % 4 of that block.
#include <cstdint>

#include "engine/kernels/hd.h"
#include "engine/kernels/math.h"

namespace sparsecap::kernels {

struct Philox4x32 {
  uint32_t v[4];
};

HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
}

// Philox4x32-10's round multipliers, key increments (Weyl sequence) and round count; also used
// by the vectorised CPU fill (engine/cpu/philox_fill.cpp). Namespace-scope constexpr scalars may
// be used in device code as they are.
constexpr uint32_t kPhiloxMul0 = 0xD2511F53u, kPhiloxMul1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxWeyl0 = 0x9E3779B9u, kPhiloxWeyl1 = 0xBB67AE85u;
constexpr int kPhiloxRounds = 10;

// Ten rounds of Philox4x32 on `counter` with key (k0, k1).
HD Philox4x32 philox4x32_10(Philox4x32 counter, uint32_t k0, uint32_t k1) {
  uint32_t c0 = counter.v[0], c1 = counter.v[1], c2 = counter.v[2], c3 = counter.v[3];
  for (int round = 0; round < kPhiloxRounds; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(kPhiloxMul0, c0, hi0, lo0);
    philox_mulhilo(kPhiloxMul1, c2, hi1, lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n1 = lo1;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    const uint32_t n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += kPhiloxWeyl0;
    k1 += kPhiloxWeyl1;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// The four 32-bit words of block `offset / 4` of stream `stream` under `seed`.
HD Philox4x32 philox_block(uint64_t seed, uint64_t stream, uint64_t block) {
  Philox4x32 counter{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                      static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)}};
  return philox4x32_10(counter, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// The 32 random bits of element `offset`.
HD uint32_t philox_bits(uint64_t seed, uint64_t stream, uint64_t offset) {
  return philox_block(seed, stream, offset >> 2).v[offset & 3];
}

// Uniform in [0, 1): the top 24 bits, so every value is exactly representable in float.
HD float bits_to_uniform(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

HD float philox_uniform(uint64_t seed, uint64_t stream, uint64_t offset) {
  return bits_to_uniform(philox_bits(seed, stream, offset));
}

// Standard normal by Box-Muller on the lane pair (2k, 2k+1) of the same block; element `offset`
// takes the cosine branch when even and the sine branch when odd. Computed in double and rounded
// to float, so host and device libm differences (an ulp of double) almost never reach the float.
HD float philox_normal(uint64_t seed, uint64_t stream, uint64_t offset) {
  const Philox4x32 block = philox_block(seed, stream, offset >> 2);
  const unsigned pair = static_cast<unsigned>(offset & 2);
  // (bits + 1) / 2^32 keeps u1 in (0, 1] so log(u1) is finite.
  const double u1 = (static_cast<double>(block.v[pair]) + 1.0) * (1.0 / 4294967296.0);
  const double u2 = static_cast<double>(block.v[pair + 1]) * (1.0 / 4294967296.0);
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586 * u2;
  return static_cast<float>((offset & 1) ? radius * sin(angle) : radius * cos(angle));
}

// Bernoulli(p): 1 when the uniform draw is below p.
HD bool philox_bernoulli(uint64_t seed, uint64_t stream, uint64_t offset, float p) {
  return philox_uniform(seed, stream, offset) < p;
}

}  // namespace sparsecap::kernels
