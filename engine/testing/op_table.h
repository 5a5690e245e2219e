#pragma once
// The declarative table of differentiable ops: one entry per op and configuration, with the
// shapes and value ranges of its inputs and the function under test. The gradient-check suite
// runs every entry in float64 against central finite differences; bench/ times the same entries.
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace sparsecap::testing {

// How an input is filled. Kinks (relu, abs, max, clamp) and singularities (log, div) are kept
// away from so finite differences are valid.
enum class InputKind {
  Normal,         // N(0, 1)
  Positive,       // uniform in [0.5, 2]
  AwayFromZero,   // N(0, 1) pushed out of (-0.2, 0.2)
  Distinct,       // a shuffled ramp: no ties for max
  Indices,        // int64 in [0, bound), not differentiable
  Mask,           // 0/1 float with at least one 1 per row, not differentiable
};

struct InputSpec {
  Shape shape;
  InputKind kind = InputKind::Normal;
  int64_t bound = 0;  // Indices: exclusive upper bound
  bool differentiable() const { return kind != InputKind::Indices && kind != InputKind::Mask; }
};

struct OpCase {
  std::string name;
  std::vector<InputSpec> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> run;
};

const std::vector<OpCase>& op_table();

// Inputs for a case, deterministic from `seed`, in `dtype` (float inputs) on `device`.
std::vector<Tensor> make_inputs(const OpCase& op, uint64_t seed, DType dtype, Device device = Device::cpu());

}  // namespace sparsecap::testing
