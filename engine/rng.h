#pragma once
// The engine's random number generator: a Philox4x32-10 seed and a running offset. Every random
// fill consumes a range of counters, so the state is two integers and a run resumes exactly.
#include <cstdint>

#include "engine/kernels/philox.h"

namespace sparsecap {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t stream = 0) : seed_(seed), stream_(stream) {}

  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }

  // Reserve `count` draws and return the first offset, aligned to a whole Philox block so a fill
  // starts at lane 0 on every device.
  uint64_t take(uint64_t count) {
    const uint64_t start = (offset_ + 3) / 4 * 4;
    offset_ = start + count;
    return start;
  }

  // Host-side draws (shuffling, augmentation choices), from the same counters.
  uint32_t next_u32() { return kernels::philox_bits(seed_, stream_, offset_++); }

  double next_uniform() {  // [0, 1) with 53 random bits
    const uint64_t high = next_u32() >> 5, low = next_u32() >> 6;
    return static_cast<double>((high << 26) | low) * (1.0 / 9007199254740992.0);
  }

  uint64_t next_below(uint64_t bound) {  // uniform in [0, bound), by rejection: no modulo bias
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    while (true) {
      const uint64_t value = (static_cast<uint64_t>(next_u32()) << 32) | next_u32();
      if (value < limit) return value % bound;
    }
  }

 private:
  uint64_t seed_;
  uint64_t stream_;
  uint64_t offset_ = 0;
};

}  // namespace sparsecap
