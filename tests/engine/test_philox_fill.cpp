// The vectorised Philox fill (engine/cpu/philox_fill.h) against kernels::philox_bits on every
// path this CPU runs, and the CPU gated weight built on it against the per-element functors: both
// must give the scalar bits exactly (the CUDA kernels compute them one element at a time).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine/backend.h"
#include "engine/cpu/philox_fill.h"
#include "engine/kernels/gated_weight_math.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace sparsecap {
namespace {

using cpu::PhiloxPath;

std::vector<PhiloxPath> available_paths() {
  std::vector<PhiloxPath> paths;
  for (PhiloxPath path : {PhiloxPath::kPortable, PhiloxPath::kAvx2, PhiloxPath::kAvx512})
    if (cpu::philox_path_available(path)) paths.push_back(path);
  return paths;
}

std::vector<uint32_t> bits_of(const std::vector<float>& values) {
  std::vector<uint32_t> bits(values.size());
  std::memcpy(bits.data(), values.data(), values.size() * sizeof(float));
  return bits;
}

TEST(PhiloxFill, PortablePathIsAlwaysAvailable) {
  EXPECT_TRUE(cpu::philox_path_available(PhiloxPath::kPortable));
  EXPECT_TRUE(cpu::philox_path_available(cpu::philox_best_path()));
}

TEST(PhiloxFill, EveryPathGivesTheScalarBits) {
  struct Key {
    uint64_t seed, stream;
  };
  // Keys and streams with both 32-bit halves set, so every counter and key word is exercised.
  const Key keys[] = {{0, 0}, {7, 3}, {0x299f31d0a4093822ull, 0x0370734413198a2eull}, {~0ull, ~0ull}};
  // Offsets at and off block boundaries, and counters whose low word wraps inside a vector group
  // (block 2^32 - 3 onwards), or whose block index wraps at 2^64.
  const uint64_t offsets[] = {0, 1, 2, 3, 4, 6, 4 * 1000 + 3, 4 * ((1ull << 32) - 3), 4 * ((1ull << 32) - 3) + 1,
                              ~0ull - 40};
  // Counts around the vector steps (AVX2: 8 blocks = 32 elements, AVX-512: 32 blocks = 128) and
  // the gated weight's chunk (1024 elements).
  const int64_t counts[] = {0, 1, 2, 3, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 131, 255, 257,
                            1023, 1024, 1025, 4099};
  for (PhiloxPath path : available_paths()) {
    for (const Key& key : keys) {
      for (uint64_t offset : offsets) {
        for (int64_t count : counts) {
          SCOPED_TRACE(testing::Message() << cpu::philox_path_name(path) << " seed " << key.seed << " stream "
                                          << key.stream << " offset " << offset << " count " << count);
          std::vector<uint32_t> expected(static_cast<size_t>(count) + 1, 0xDEADBEEFu), got = expected;
          for (int64_t j = 0; j < count; ++j) {
            const uint64_t element = offset + static_cast<uint64_t>(j);
            expected[static_cast<size_t>(j)] = kernels::philox_bits(key.seed, key.stream, element);
          }
          cpu::philox_fill(path, key.seed, key.stream, offset, count, got.data());
          ASSERT_EQ(got, expected);  // the sentinel after the last element included: nothing written past it
        }
      }
    }
  }
}

// Forward and backward of the CPU gated weight equal the per-element functors bit for bit, for
// sizes that end inside a block and inside a chunk, run on one or both threads, at offsets on and
// off block boundaries.
// The CPU gated weight, forward and backward, against the per-element functors, bit for bit.
void expect_gated_weight_matches_functors(const Tensor& w, const Tensor& g, const Tensor& dy,
                                          const kernels::GateDraw& draw) {
  const int64_t n = w.numel();
  Backend& backend = backend_for(Device::cpu());
  Tensor out = zeros({n}), dw = zeros({n}), dg = zeros({n});
  backend.gated_weight(w, g, out, draw);
  backend.gated_weight_backward(dy, w, g, dw, dg, draw);
  const std::vector<float> wv = w.to_vector<float>(), gv = g.to_vector<float>(), dyv = dy.to_vector<float>();
  std::vector<float> expected_out(wv.size()), expected_dw(wv.size()), expected_dg(wv.size());
  for (size_t i = 0; i < wv.size(); ++i) {
    expected_out[i] = kernels::gated_weight_forward(wv[i], gv[i], draw, i);
    kernels::gated_weight_backward(dyv[i], wv[i], gv[i], draw, i, expected_dw[i], expected_dg[i]);
  }
  ASSERT_EQ(bits_of(out.to_vector<float>()), bits_of(expected_out));
  ASSERT_EQ(bits_of(dw.to_vector<float>()), bits_of(expected_dw));
  ASSERT_EQ(bits_of(dg.to_vector<float>()), bits_of(expected_dg));
}

struct GateInputs {
  Tensor w, g, dy;
};

GateInputs gate_inputs(int64_t n) {
  Generator generator(static_cast<uint64_t>(n));
  GateInputs inputs;
  inputs.w = randn({n}, generator);
  inputs.g = mul_scalar(randn({n}, generator), 3.0);
  inputs.dy = randn({n}, generator);
  return inputs;
}

TEST(PhiloxFill, GatedWeightEqualsThePerElementFunctors) {
  for (int64_t n : {1, 3, 17, 1000, 1024 + 5, 3 * 1024 + 7, 70001}) {
    const GateInputs x = gate_inputs(n);
    for (uint64_t offset : {0ull, 1ull, 6ull, 4000ull, 4003ull}) {
      for (bool sample : {true, false}) {
        SCOPED_TRACE(testing::Message() << "n " << n << " offset " << offset << " sample " << sample);
        expect_gated_weight_matches_functors(x.w, x.g, x.dy, kernels::GateDraw{11, 0x100000002ull, offset, sample});
      }
    }
  }
}

// Outputs of 32 MiB and more are staged and written with streaming stores
// (engine/cpu/gated_weight_loops.cpp): the same bits, tail chunk included.
TEST(PhiloxFill, StreamedGatedWeightEqualsThePerElementFunctors) {
  const GateInputs x = gate_inputs((int64_t{32} << 20) / 4 + 1029);
  expect_gated_weight_matches_functors(x.w, x.g, x.dy, kernels::GateDraw{11, 0x100000002ull, 6, true});
}

}  // namespace
}  // namespace sparsecap
