#pragma once
// Philox random bits for a run of consecutive elements, vectorised: the CPU loops that draw per
// element (Supermask's gated weight) fill an L1-resident chunk of bits here and then run their
// single-source functors over it. Philox's 32x32->64 multiplies and its round-to-round dependence
// defeat the compiler's vectoriser, so the AVX2 and AVX-512 paths are written with intrinsics and
// chosen at run time; every path gives kernels::philox_bits bit for bit.
#include <cstdint>

namespace sparsecap::cpu {

enum class PhiloxPath { kPortable, kAvx2, kAvx512 };

const char* philox_path_name(PhiloxPath path);

// Whether this CPU can run `path` (kPortable: always).
bool philox_path_available(PhiloxPath path);

// The widest available path.
PhiloxPath philox_best_path();

// out[j] = kernels::philox_bits(seed, stream, offset + j) for 0 <= j < count, computed on `path`
// (which must be available). Any offset and count: partial blocks at either end are handled.
void philox_fill(PhiloxPath path, uint64_t seed, uint64_t stream, uint64_t offset, int64_t count, uint32_t* out);

}  // namespace sparsecap::cpu
