#include "engine/testing/op_table.h"

#include <algorithm>
#include <numeric>

#include "engine/ops.h"
#include "engine/rng.h"

namespace sparsecap::testing {

namespace {

using Inputs = std::vector<Tensor>;

InputSpec normal(Shape s) { return {std::move(s), InputKind::Normal, 0}; }
InputSpec positive(Shape s) { return {std::move(s), InputKind::Positive, 0}; }
InputSpec away(Shape s) { return {std::move(s), InputKind::AwayFromZero, 0}; }
InputSpec distinct(Shape s) { return {std::move(s), InputKind::Distinct, 0}; }
InputSpec indices(Shape s, int64_t bound) { return {std::move(s), InputKind::Indices, bound}; }
InputSpec mask(Shape s) { return {std::move(s), InputKind::Mask, 0}; }

std::vector<OpCase> build_table() {
  std::vector<OpCase> t;
  auto add_case = [&](std::string name, std::vector<InputSpec> inputs, std::function<Tensor(const Inputs&)> run) {
    t.push_back(OpCase{std::move(name), std::move(inputs), std::move(run)});
  };
  // ---- elementwise ----
  add_case("add", {normal({3, 4}), normal({3, 4})}, [](const Inputs& x) { return add(x[0], x[1]); });
  add_case("add_broadcast_row", {normal({3, 4}), normal({4})}, [](const Inputs& x) { return add(x[0], x[1]); });
  add_case("add_broadcast_middle", {normal({2, 3, 4}), normal({2, 1, 4})},
           [](const Inputs& x) { return add(x[0], x[1]); });
  add_case("sub_broadcast", {normal({2, 1, 4}), normal({3, 1})}, [](const Inputs& x) { return sub(x[0], x[1]); });
  add_case("mul_broadcast", {normal({2, 3, 4}), normal({3, 1})}, [](const Inputs& x) { return mul(x[0], x[1]); });
  add_case("div", {normal({3, 4}), positive({3, 4})}, [](const Inputs& x) { return div(x[0], x[1]); });
  add_case("maximum", {distinct({3, 4}), normal({4})}, [](const Inputs& x) { return maximum(x[0], x[1]); });
  add_case("affine", {normal({5})}, [](const Inputs& x) { return affine(x[0], -1.5, 0.25); });
  add_case("neg", {normal({5})}, [](const Inputs& x) { return neg(x[0]); });
  add_case("exp", {normal({3, 4})}, [](const Inputs& x) { return exp(x[0]); });
  add_case("log", {positive({3, 4})}, [](const Inputs& x) { return log(x[0]); });
  add_case("sqrt", {positive({3, 4})}, [](const Inputs& x) { return sqrt(x[0]); });
  add_case("abs", {away({3, 4})}, [](const Inputs& x) { return abs(x[0]); });
  add_case("pow", {positive({3, 4})}, [](const Inputs& x) { return pow(x[0], 2.5); });
  add_case("sigmoid", {normal({3, 4})}, [](const Inputs& x) { return sigmoid(x[0]); });
  add_case("tanh", {normal({3, 4})}, [](const Inputs& x) { return tanh(x[0]); });
  add_case("relu", {away({3, 4})}, [](const Inputs& x) { return relu(x[0]); });
  add_case("clamp", {away({3, 4})}, [](const Inputs& x) { return clamp(x[0], -0.1, 0.1); });
  // ---- reductions ----
  add_case("sum_all", {normal({3, 4})}, [](const Inputs& x) { return sum(x[0]); });
  add_case("sum_dim_keepdim", {normal({2, 3, 4})}, [](const Inputs& x) { return sum(x[0], 1, true); });
  add_case("mean_dim", {normal({2, 3, 4})}, [](const Inputs& x) { return mean(x[0], -1); });
  add_case("mean_all", {normal({2, 3})}, [](const Inputs& x) { return mean(x[0]); });
  add_case("max_dim", {distinct({2, 3, 4})}, [](const Inputs& x) { return max(x[0], 1); });
  add_case("max_all", {distinct({3, 4})}, [](const Inputs& x) { return max(x[0]); });
  add_case("broadcast_to", {normal({3, 1})}, [](const Inputs& x) { return broadcast_to(x[0], {2, 3, 4}); });
  // ---- linear algebra ----
  add_case("matmul_2d", {normal({3, 4}), normal({4, 5})}, [](const Inputs& x) { return matmul(x[0], x[1]); });
  add_case("matmul_batched", {normal({2, 3, 4}), normal({2, 4, 5})},
           [](const Inputs& x) { return matmul(x[0], x[1]); });
  add_case("matmul_batch_by_matrix", {normal({2, 3, 4}), normal({4, 5})},
           [](const Inputs& x) { return matmul(x[0], x[1]); });
  add_case("matmul_matrix_by_batch", {normal({3, 4}), normal({2, 4, 5})},
           [](const Inputs& x) { return matmul(x[0], x[1]); });
  add_case("matmul_vector", {normal({4}), normal({4, 5})}, [](const Inputs& x) { return matmul(x[0], x[1]); });
  add_case("linear_bias", {normal({2, 3, 4}), normal({5, 4}), normal({5})},
           [](const Inputs& x) { return linear(x[0], x[1], x[2]); });
  add_case("linear_no_bias", {normal({3, 4}), normal({5, 4})}, [](const Inputs& x) { return linear(x[0], x[1]); });
  // ---- shape ----
  add_case("reshape", {normal({2, 6})}, [](const Inputs& x) { return x[0].reshape({3, -1}); });
  add_case("transpose_last2", {normal({2, 3, 4})}, [](const Inputs& x) { return transpose(x[0]); });
  add_case("transpose_0_2", {normal({2, 3, 4})}, [](const Inputs& x) { return transpose(x[0], 0, 2); });
  add_case("transpose_1_2_of_4d", {normal({2, 3, 4, 2})}, [](const Inputs& x) { return transpose(x[0], 1, 2); });
  add_case("concat_dim1", {normal({2, 3}), normal({2, 2})}, [](const Inputs& x) { return concat({x[0], x[1]}, 1); });
  add_case("concat_dim0", {normal({2, 3}), normal({1, 3})}, [](const Inputs& x) { return concat({x[0], x[1]}, 0); });
  add_case("narrow_dim1", {normal({2, 5, 3})}, [](const Inputs& x) { return narrow(x[0], 1, 1, 3); });
  add_case("narrow_rows_view", {normal({4, 3})}, [](const Inputs& x) { return x[0].narrow_rows(1, 2); });
  add_case("split_second_part", {normal({2, 5})}, [](const Inputs& x) { return split(x[0], 2, 1)[1]; });
  add_case("stack_dim1", {normal({2, 3}), normal({2, 3})}, [](const Inputs& x) { return stack({x[0], x[1]}, 1); });
  add_case("unsqueeze_squeeze", {normal({2, 3})}, [](const Inputs& x) { return squeeze(unsqueeze(x[0], 1), 1); });
  // ---- indexing ----
  add_case("index_select", {normal({5, 3}), indices({4}, 5)}, [](const Inputs& x) { return index_select(x[0], x[1]); });
  add_case("embedding_repeated", {normal({4, 3}), indices({2, 5}, 4)},
           [](const Inputs& x) { return embedding(x[0], x[1]); });
  add_case("gather", {normal({3, 5}), indices({3, 2}, 5)}, [](const Inputs& x) { return gather(x[0], x[1]); });
  // ---- nn ----
  add_case("softmax", {normal({3, 5})}, [](const Inputs& x) { return softmax(x[0]); });
  add_case("log_softmax", {normal({3, 5})}, [](const Inputs& x) { return log_softmax(x[0]); });
  add_case("masked_softmax_grouped", {normal({2, 3, 5}), mask({2, 5})},
           [](const Inputs& x) { return masked_softmax(x[0], x[1]); });
  add_case("cross_entropy_ignore", {normal({4, 6}), indices({4}, 6)}, [](const Inputs& x) {
    // Row 2's target is replaced by the ignore index.
    std::vector<int64_t> targets = x[1].to_vector<int64_t>();
    targets[2] = -100;
    return cross_entropy(x[0], from_vector(targets, {4}, x[1].device()), -100);
  });
  add_case("dropout", {normal({4, 8})}, [](const Inputs& x) {
    Generator generator(7);  // the same mask on every call, as finite differences need
    return dropout(x[0], 0.3, true, generator);
  });
  add_case("layer_norm", {normal({3, 6}), normal({6}), normal({6})},
           [](const Inputs& x) { return layer_norm(x[0], x[1], x[2]); });
  add_case("reference_layer_norm", {normal({2, 3, 6}), normal({6}), normal({6})},
           [](const Inputs& x) { return reference_layer_norm(x[0], x[1], x[2]); });
  add_case("batch_norm_train", {normal({3, 2, 2, 3}), normal({2}), normal({2})}, [](const Inputs& x) {
    Tensor running_mean = zeros({2}, x[0].dtype(), x[0].device()), running_var = ones({2}, x[0].dtype(), x[0].device());
    return batch_norm(x[0], x[1], x[2], running_mean, running_var, true);
  });
  // 20 positions per plane: the CPU's eight-way partial sums run twice and then a tail of four.
  add_case("batch_norm_train_wide_planes", {normal({2, 2, 4, 5}), normal({2}), normal({2})}, [](const Inputs& x) {
    Tensor running_mean = zeros({2}, x[0].dtype(), x[0].device()), running_var = ones({2}, x[0].dtype(), x[0].device());
    return batch_norm(x[0], x[1], x[2], running_mean, running_var, true);
  });
  add_case("batch_norm_eval", {normal({2, 2, 2, 3}), normal({2}), normal({2})}, [](const Inputs& x) {
    Tensor running_mean = full({2}, 0.3, x[0].dtype(), x[0].device()), running_var = full({2}, 1.7, x[0].dtype(), x[0].device());
    return batch_norm(x[0], x[1], x[2], running_mean, running_var, false);
  });
  add_case("conv2d_3x3_pad1", {normal({2, 3, 5, 5}), normal({4, 3, 3, 3}), normal({4})},
           [](const Inputs& x) { return conv2d(x[0], x[1], x[2], 1, 1); });
  add_case("conv2d_stride2", {normal({1, 2, 6, 5}), normal({3, 2, 3, 3})},
           [](const Inputs& x) { return conv2d(x[0], x[1], Tensor(), 2, 1); });
  add_case("conv2d_pointwise", {normal({2, 4, 3, 3}), normal({5, 4, 1, 1})},
           [](const Inputs& x) { return conv2d(x[0], x[1]); });
  add_case("conv2d_depthwise", {normal({2, 3, 5, 5}), normal({3, 1, 3, 3})},
           [](const Inputs& x) { return conv2d(x[0], x[1], Tensor(), 2, 1, 3); });
  add_case("conv2d_depthwise_stride1", {normal({2, 4, 6, 5}), normal({4, 1, 3, 3})},
           [](const Inputs& x) { return conv2d(x[0], x[1], Tensor(), 1, 1, 4); });
  add_case("conv2d_depthwise_2x2_plane", {normal({2, 3, 2, 2}), normal({3, 1, 3, 3})},
           [](const Inputs& x) { return conv2d(x[0], x[1], Tensor(), 2, 1, 3); });
  add_case("conv2d_depthwise_5x5", {normal({1, 3, 6, 5}), normal({3, 1, 5, 5})},
           [](const Inputs& x) { return conv2d(x[0], x[1], Tensor(), 1, 2, 3); });
  add_case("conv2d_groups2", {normal({1, 4, 4, 4}), normal({6, 2, 3, 3})},
           [](const Inputs& x) { return conv2d(x[0], x[1], Tensor(), 1, 0, 2); });
  add_case("max_pool2d", {distinct({2, 2, 5, 5})}, [](const Inputs& x) { return max_pool2d(x[0], 2, 2); });
  add_case("max_pool2d_pad", {distinct({1, 2, 5, 5})}, [](const Inputs& x) { return max_pool2d(x[0], 3, 2, 1); });
  add_case("avg_pool2d_pad", {normal({1, 2, 5, 5})}, [](const Inputs& x) { return avg_pool2d(x[0], 3, 2, 1); });
  add_case("global_avg_pool2d", {normal({2, 3, 4, 4})}, [](const Inputs& x) { return global_avg_pool2d(x[0]); });
  // ---- fused recurrent cells: (input gates, hidden gates, previous state), hidden 3 ----
  add_case("lstm_cell", {normal({2, 12}), normal({2, 12}), normal({2, 3})},
           [](const Inputs& x) { return lstm_cell(x[0], x[1], x[2]); });
  add_case("gru_cell", {normal({2, 9}), normal({2, 9}), normal({2, 3})},
           [](const Inputs& x) { return gru_cell(x[0], x[1], x[2]); });
  // ---- fused attention: keys [rows, positions, width], query, weight [1, width], bias [1] ----
  add_case("additive_attention", {normal({2, 3, 4}), normal({2, 4}), normal({1, 4}), normal({1})},
           [](const Inputs& x) { return additive_attention(x[0], x[1], x[2], x[3]); });
  // No bias (nothing needs a sum over all elements: the emulated device runs it whole), one
  // position, a width that is not a multiple of the warp.
  add_case("additive_attention_no_bias", {normal({3, 1, 37}), normal({3, 37}), normal({1, 37})},
           [](const Inputs& x) { return additive_attention(x[0], x[1], x[2]); });
  return t;
}

}  // namespace

const std::vector<OpCase>& op_table() {
  static const std::vector<OpCase> table = build_table();
  return table;
}

std::vector<Tensor> make_inputs(const OpCase& op, uint64_t seed, DType dtype, Device device) {
  Generator generator(seed);
  std::vector<Tensor> inputs;
  for (const InputSpec& spec : op.inputs) {
    const int64_t n = numel_of(spec.shape);
    Tensor t;
    switch (spec.kind) {
      case InputKind::Normal: t = randn(spec.shape, generator, DType::F64); break;
      case InputKind::Positive: t = affine(rand(spec.shape, generator, DType::F64), 1.5, 0.5); break;
      case InputKind::AwayFromZero: {
        std::vector<double> v = randn(spec.shape, generator, DType::F64).to_vector<double>();
        for (double& x : v) x = x >= 0 ? x + 0.2 : x - 0.2;
        t = from_vector(v, spec.shape);
        break;
      }
      case InputKind::Distinct: {
        // A ramp with steps of 0.1, shuffled: finite differences of 1e-6 never reorder it.
        std::vector<double> v(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = 0.1 * static_cast<double>(i - n / 2);
        for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[generator.next_below(i)]);
        t = from_vector(v, spec.shape);
        break;
      }
      case InputKind::Indices: {
        std::vector<int64_t> v(static_cast<size_t>(n));
        for (int64_t& i : v) i = static_cast<int64_t>(generator.next_below(static_cast<uint64_t>(spec.bound)));
        t = from_vector(v, spec.shape);
        break;
      }
      case InputKind::Mask: {
        const int64_t cols = spec.shape.back();
        std::vector<double> v(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = (i % cols == 0 || generator.next_uniform() < 0.6) ? 1 : 0;
        t = from_vector(v, spec.shape);
        break;
      }
    }
    if (is_floating(t.dtype()) && t.dtype() != dtype) t = t.to(dtype);
    inputs.push_back(t.to(device));
  }
  return inputs;
}

}  // namespace sparsecap::testing
