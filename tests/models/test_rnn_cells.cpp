// The fused LSTM and GRU cells against the composition of primitive ops they replace (values and
// gradients), finite differences in float64, and the cell modules built on them.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "models/rnn_cells.h"
#include "tests/engine/gradcheck.h"

namespace sparsecap {
namespace {

// The LSTM step as separate ops: i, f, g, o from the summed pre-activations.
Tensor lstm_by_composition(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c_prev) {
  const int64_t hidden = c_prev.size(1);
  const std::vector<Tensor> parts = split(add(input_gates, hidden_gates), hidden, 1);
  const Tensor i = sigmoid(parts[0]), f = sigmoid(parts[1]), g = tanh(parts[2]), o = sigmoid(parts[3]);
  const Tensor c = add(mul(f, c_prev), mul(i, g));
  const Tensor h = mul(o, tanh(c));
  return stack({h, c}, 0);
}

// PyTorch's GRU step as separate ops: the reset gate scales the hidden side's n part.
Tensor gru_by_composition(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h_prev) {
  const int64_t hidden = h_prev.size(1);
  const std::vector<Tensor> x = split(input_gates, hidden, 1), h = split(hidden_gates, hidden, 1);
  const Tensor r = sigmoid(add(x[0], h[0])), z = sigmoid(add(x[1], h[1]));
  const Tensor n = tanh(add(x[2], mul(r, h[2])));
  return add(mul(affine(z, -1.0, 1.0), n), mul(z, h_prev));
}

using CellFunction = Tensor (*)(const Tensor&, const Tensor&, const Tensor&);

struct CellCase {
  const char* name;
  int64_t gates;
  CellFunction fused;
  CellFunction composed;
};

const CellCase kCases[] = {{"lstm", 4, &lstm_cell, &lstm_by_composition},
                           {"gru", 3, &gru_cell, &gru_by_composition}};

std::vector<Tensor> random_cell_inputs(int64_t gates, int64_t batch, int64_t hidden, DType dtype, uint64_t seed) {
  Generator generator(seed);
  // Scaled by 2 so the gates reach their saturating ranges too.
  return {mul_scalar(randn({batch, gates * hidden}, generator, dtype), 2.0),
          mul_scalar(randn({batch, gates * hidden}, generator, dtype), 2.0),
          randn({batch, hidden}, generator, dtype)};
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

// Values and gradients of all three inputs, for the same random output weighting.
struct CellRun {
  Tensor output;
  std::vector<Tensor> grads;
};

CellRun run_with_gradients(CellFunction cell, const std::vector<Tensor>& inputs, uint64_t seed) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) leaves.push_back(t.detach().clone().set_requires_grad(true));
  CellRun run;
  run.output = cell(leaves[0], leaves[1], leaves[2]);
  Generator generator(seed);
  sum(mul(run.output, randn(run.output.shape(), generator, run.output.dtype()))).backward();
  for (const Tensor& leaf : leaves) run.grads.push_back(leaf.grad());
  return run;
}

class FusedCell : public ::testing::TestWithParam<CellCase> {};

TEST_P(FusedCell, MatchesCompositionInFloat64) {
  const CellCase& cell = GetParam();
  const std::vector<Tensor> inputs = random_cell_inputs(cell.gates, 5, 7, DType::F64, 11);
  const CellRun fused = run_with_gradients(cell.fused, inputs, 3);
  const CellRun composed = run_with_gradients(cell.composed, inputs, 3);
  EXPECT_LT(max_abs_difference(fused.output, composed.output), 1e-14);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(fused.grads[i].defined()) << "input " << i;
    EXPECT_LT(max_abs_difference(fused.grads[i], composed.grads[i]), 1e-13) << "input " << i;
  }
}

TEST_P(FusedCell, MatchesCompositionInFloat32) {
  const CellCase& cell = GetParam();
  // 67 units: the CPU loops run whole SIMD vectors of units and then a tail.
  const std::vector<Tensor> inputs = random_cell_inputs(cell.gates, 33, 67, DType::F32, 12);
  const CellRun fused = run_with_gradients(cell.fused, inputs, 4);
  const CellRun composed = run_with_gradients(cell.composed, inputs, 4);
  EXPECT_LT(max_abs_difference(fused.output, composed.output), 1e-6);
  for (size_t i = 0; i < 3; ++i) EXPECT_LT(max_abs_difference(fused.grads[i], composed.grads[i]), 1e-5) << i;
}

TEST_P(FusedCell, GradientsMatchFiniteDifferences) {
  const CellCase& cell = GetParam();
  const auto function = [fused = cell.fused](const std::vector<Tensor>& x) { return fused(x[0], x[1], x[2]); };
  const testing::GradcheckResult result =
      testing::gradcheck(function, random_cell_inputs(cell.gates, 3, 4, DType::F64, 13), {true, true, true});
  EXPECT_LT(result.max_relative_error, 1e-7) << result.worst;
}

TEST_P(FusedCell, RejectsMismatchedGateWidth) {
  const CellCase& cell = GetParam();
  std::vector<Tensor> inputs = random_cell_inputs(cell.gates, 2, 3, DType::F32, 14);
  const Tensor too_narrow = zeros({2, cell.gates * 3 - 1});
  try {
    cell.fused(too_narrow, inputs[1], inputs[2]);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("expected [2, " + std::to_string(cell.gates * 3) + "], got [2, " +
                                             std::to_string(cell.gates * 3 - 1) + "]"),
              std::string::npos)
        << error.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Cells, FusedCell, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<CellCase>& info) { return std::string(info.param.name); });

TEST(FusedLstmCell, KnownValuesForOneUnit) {
  // All pre-activations zero: i = f = o = 1/2, g = 0, so c = c_prev / 2 and h = tanh(c) / 2.
  const Tensor state = lstm_cell(zeros({1, 4}), zeros({1, 4}), full({1, 1}, 0.8));
  EXPECT_DOUBLE_EQ(state.row(1).item(), static_cast<double>(0.4f));
  EXPECT_NEAR(state.row(0).item(), 0.5 * std::tanh(0.4), 1e-7);
}

TEST(FusedGruCell, ResetGateScalesTheHiddenSideBias) {
  // x_r + h_r = -inf-ish (r ~ 0): n = tanh(x_n) regardless of the hidden side's n part.
  const Tensor input_gates = from_vector<double>({-40.0, 0.0, 0.3}, {1, 3});
  const Tensor hidden_gates = from_vector<double>({0.0, 0.0, 5.0}, {1, 3});
  const Tensor h = gru_cell(input_gates, hidden_gates, from_vector<double>({0.6}, {1, 1}));
  EXPECT_NEAR(h.item(), 0.5 * std::tanh(0.3) + 0.5 * 0.6, 1e-12);
}

TEST(RecurrentCellModule, ParametersHaveTorchLayoutAndKinds) {
  Generator generator(1);
  models::LstmCell lstm(6, 5, generator);
  const auto named = lstm.named_parameters();
  ASSERT_EQ(named.size(), 4u);
  EXPECT_EQ(named[0].first, "w_ih");
  EXPECT_EQ(named[0].second->shape(), (Shape{20, 6}));
  EXPECT_EQ(named[0].second->kind(), nn::ParameterKind::Weight);
  EXPECT_EQ(named[1].first, "w_hh");
  EXPECT_EQ(named[1].second->shape(), (Shape{20, 5}));
  EXPECT_EQ(named[2].second->kind(), nn::ParameterKind::Bias);
  EXPECT_EQ(named[3].second->kind(), nn::ParameterKind::Bias);
  // The forget-gate slice of b_ih starts at the forget bias, the rest at zero.
  const std::vector<float> b_ih = lstm.b_ih()->value().to_vector<float>();
  for (int64_t j = 0; j < 20; ++j) EXPECT_EQ(b_ih[static_cast<size_t>(j)], (j >= 5 && j < 10) ? 1.0f : 0.0f) << j;
  // Xavier-uniform bound for w_ih: sqrt(6 / (6 + 20)).
  for (float w : lstm.w_ih()->value().to_vector<float>()) EXPECT_LE(std::abs(w), std::sqrt(6.0f / 26.0f));

  models::GruCell gru(6, 5, generator);
  EXPECT_EQ(gru.w_hh()->shape(), (Shape{15, 5}));
  for (float b : gru.b_ih()->value().to_vector<float>()) EXPECT_EQ(b, 0.0f);
}

TEST(RecurrentCellModule, StepEqualsLinearLayersThenComposition) {
  Generator generator(2);
  for (const models::CellType type : {models::CellType::Lstm, models::CellType::Gru}) {
    auto cell = models::make_recurrent_cell(type, 4, 3, generator);
    cell->to(DType::F64);
    const Tensor x = randn({2, 4}, generator, DType::F64);
    const models::RecurrentState state{randn({2, 3}, generator, DType::F64), randn({2, 3}, generator, DType::F64)};
    const models::RecurrentState next =
        cell->forward(x, type == models::CellType::Lstm ? state : models::RecurrentState{state.h, Tensor()});
    const Tensor input_gates = linear(x, cell->w_ih()->value(), cell->b_ih()->value());
    const Tensor hidden_gates = linear(state.h, cell->w_hh()->value(), cell->b_hh()->value());
    if (type == models::CellType::Lstm) {
      const Tensor expected = lstm_by_composition(input_gates, hidden_gates, state.c);
      EXPECT_LT(max_abs_difference(next.h, expected.row(0)), 1e-14);
      EXPECT_LT(max_abs_difference(next.c, expected.row(1)), 1e-14);
    } else {
      EXPECT_LT(max_abs_difference(next.h, gru_by_composition(input_gates, hidden_gates, state.h)), 1e-14);
      EXPECT_FALSE(next.c.defined());
    }
  }
}

TEST(RecurrentCellModule, ErrorsNameTheLayerAndShapes) {
  Generator generator(3);
  models::LstmCell lstm(4, 3, generator);
  try {
    lstm.forward(zeros({2, 5}), {zeros({2, 3}), zeros({2, 3})});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "expected input [B, 4], got [2, 5] in lstm");
  }
  EXPECT_THROW(lstm.forward(zeros({2, 4}), {zeros({2, 3}), Tensor()}), Error);  // an LSTM needs c
  EXPECT_THROW(models::parse_cell_type("rnn"), Error);
  EXPECT_EQ(models::parse_cell_type("gru"), models::CellType::Gru);
}

}  // namespace
}  // namespace sparsecap
