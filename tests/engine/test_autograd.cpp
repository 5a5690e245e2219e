// The tape: accumulation, detach, no-grad, hooks, graph shapes that break naive implementations.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace sparsecap {
namespace {

Tensor leaf(std::vector<double> values) {
  const int64_t n = static_cast<int64_t>(values.size());
  return from_vector(values, {n}).set_requires_grad(true);
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = leaf({1.0, 2.0});
  sum(mul(x, x)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2.0, 4.0}));
  sum(mul_scalar(x, 3.0)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5.0, 7.0}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, DiamondGraphSumsBothPaths) {
  Tensor x = leaf({3.0});
  const Tensor a = mul_scalar(x, 2.0), b = exp(x);
  sum(add(a, b)).backward();  // d/dx (2x + e^x) = 2 + e^x
  EXPECT_NEAR(x.grad().item(), 2.0 + std::exp(3.0), 1e-12);
}

TEST(Autograd, DetachAndNoGradStopTheTape) {
  Tensor x = leaf({2.0});
  EXPECT_FALSE(mul(x.detach(), x.detach()).requires_grad());
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(mul(x, x).requires_grad());
  }
  EXPECT_TRUE(mul(x, x).requires_grad());
  sum(mul(x, x.detach())).backward();  // only one factor is differentiated
  EXPECT_DOUBLE_EQ(x.grad().item(), 2.0);
}

TEST(Autograd, OnlyInputsThatRequireGradReceiveIt) {
  Tensor w = leaf({1.0, -1.0});
  const Tensor c = from_vector<double>({4.0, 5.0}, {2});
  sum(mul(w, c)).backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{4.0, 5.0}));
  EXPECT_FALSE(c.grad().defined());
}

TEST(Autograd, HooksRewriteGradientsOfLeavesAndIntermediates) {
  Tensor x = leaf({1.0, 1.0});
  x.register_hook([](const Tensor& g) { return mul_scalar(g, 10.0); });
  Tensor y = mul_scalar(x, 2.0);
  y.register_hook([](const Tensor& g) { return add_scalar(g, 1.0); });
  sum(y).backward();  // dy = 1 -> hook -> 2; dx = 2 * 2 = 4 -> hook -> 40
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{40.0, 40.0}));
}

TEST(Autograd, DeepChainDoesNotRecurse) {
  // 100 000 sequential ops: a recursive backward, or a recursive release of the graph when y goes
  // out of scope, would overflow the stack (this test caught the second under ASan).
  Tensor x = leaf({1.0});
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = add_scalar(y, 1e-6);
  sum(y).backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 1.0);
}

TEST(Autograd, BackwardOnNonScalarNeedsAGradient) {
  Tensor x = leaf({1.0, 2.0});
  EXPECT_THROW(mul_scalar(x, 2.0).backward(), Error);
  mul_scalar(x, 2.0).backward(from_vector<double>({1.0, 0.5}, {2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2.0, 1.0}));
}

// Gradients are summed in place when nothing else holds the running sum; these cases hold it.

TEST(Autograd, AGradientTheCallerHoldsIsNotChangedByALaterBackward) {
  Tensor x = leaf({1.0, 2.0});
  sum(mul_scalar(x, 2.0)).backward();
  const Tensor first = x.grad();
  sum(mul_scalar(x, 3.0)).backward();
  EXPECT_EQ(first.to_vector<double>(), (std::vector<double>{2.0, 2.0}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5.0, 5.0}));
}

TEST(Autograd, ALeafDoesNotKeepTheGradientPassedToBackward) {
  Tensor x = leaf({1.0, 2.0});
  Tensor seed = from_vector<double>({0.5, 0.25}, {2});
  x.backward(seed);
  seed.fill_(7.0);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0.5, 0.25}));
  x.backward(from_vector<double>({1.0, 1.0}, {2}));
  EXPECT_EQ(seed.to_vector<double>(), (std::vector<double>{7.0, 7.0}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1.5, 1.25}));
}

TEST(Autograd, AGradientSharedByTwoInputsIsNotSummedIntoInPlace) {
  // add passes one gradient tensor to both of its inputs. Here `a` receives it from `t` and then
  // `s`'s gradient, the same tensor as `b` receives: summing into `a`'s in place would change `b`'s.
  Tensor x = leaf({0.5, -1.0});
  const Tensor c = from_vector<double>({2.0, 3.0}, {2});
  const Tensor a = exp(x), b = mul_scalar(x, 3.0);
  const Tensor s = add(a, b), t = add(s, a);
  sum(mul(t, c)).backward();  // d/dx c (2 e^x + 3x) = c (2 e^x + 3)
  const std::vector<double> grad = x.grad().to_vector<double>();
  EXPECT_NEAR(grad[0], 2.0 * (2.0 * std::exp(0.5) + 3.0), 1e-12);
  EXPECT_NEAR(grad[1], 3.0 * (2.0 * std::exp(-1.0) + 3.0), 1e-12);
}

TEST(Autograd, AGradientAHookKeptIsNotSummedIntoInPlace) {
  Tensor x = leaf({1.0});
  std::vector<Tensor> seen;
  x.register_hook([&seen](const Tensor& g) {
    seen.push_back(g);
    return g;
  });
  sum(add(mul_scalar(x, 2.0), add(mul_scalar(x, 3.0), mul_scalar(x, 4.0)))).backward();
  ASSERT_EQ(seen.size(), 3u);
  double total = 0;
  for (const Tensor& g : seen) {
    const double value = g.item();
    EXPECT_TRUE(value == 2.0 || value == 3.0 || value == 4.0) << value;
    total += value;
  }
  EXPECT_DOUBLE_EQ(total, 9.0);
  EXPECT_DOUBLE_EQ(x.grad().item(), 9.0);
}

TEST(Autograd, AWeightUsedAtManyStepsSumsEveryStep) {
  // An unrolled recurrence: w used at each of 17 steps, as a decoder's weights are.
  Tensor w = leaf({0.5, 2.0});
  Tensor h = from_vector<double>({1.0, 1.0}, {2});
  Tensor intermediate_w = mul_scalar(w, 1.0);  // a non-leaf used at every step too
  Tensor total = zeros({2}, DType::F64);
  for (int step = 1; step <= 17; ++step) total = add(total, add(mul_scalar(w, step), intermediate_w));
  sum(mul(total, h)).backward();
  // sum_step (step + 1) = 17 * 18 / 2 + 17
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{170.0, 170.0}));
}

// linear's backward adds a weight's gradient straight into the running sum autograd offers
// (gradient_accumulator). Three uses of one weight against the closed form x_t^T g summed.
TEST(Autograd, ALinearWeightUsedAtEveryStepGathersEveryStepsGradient) {
  const Tensor w = from_vector<double>({1.0, -2.0, 0.5, 3.0}, {2, 2}).set_requires_grad(true);
  const std::vector<std::vector<double>> inputs{{1.0, 2.0}, {-1.0, 0.5}, {3.0, -4.0}};
  const Tensor gated = mul_scalar(w, 2.0);  // a non-leaf weight, as a gated weight is
  Tensor total = zeros({1, 2}, DType::F64);
  for (const auto& x : inputs) {
    total = add(total, linear(from_vector<double>(x, {1, 2}), w));
    total = add(total, linear(from_vector<double>(x, {1, 2}), gated));
  }
  sum(total).backward();
  // d/dW sum(x W^T) = 1 x for each output row; the gated use counts twice.
  const double col0 = 3.0 * (1.0 - 1.0 + 3.0), col1 = 3.0 * (2.0 + 0.5 - 4.0);
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{col0, col1, col0, col1}));
}

TEST(Autograd, NoGradientIsAddedIntoALeafGradientSomeoneHoldsOrAHookMustSee) {
  const Tensor w = from_vector<double>({1.0, 2.0}, {1, 2}).set_requires_grad(true);
  const Tensor x = from_vector<double>({1.0, 1.0}, {1, 2});
  sum(linear(x, w)).backward();
  const Tensor held = w.grad();
  sum(add(linear(x, w), linear(x, w))).backward();
  EXPECT_EQ(held.to_vector<double>(), (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{3.0, 3.0}));

  const Tensor v = from_vector<double>({1.0, 2.0}, {1, 2}).set_requires_grad(true);
  int calls = 0;
  v.register_hook([&calls](const Tensor& g) {
    ++calls;
    EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{1.0, 1.0}));
    return g;
  });
  sum(add(add(linear(x, v), linear(x, v)), linear(x, v))).backward();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(v.grad().to_vector<double>(), (std::vector<double>{3.0, 3.0}));
}

// narrow_rows adds each slice's gradient into the running sum of its source's
// (gradient_accumulator): rows taken at every step, one of them twice, and a two-row slice, from a
// non-leaf source (as a decoder's embedded words are) and from a leaf, against the closed form.
TEST(Autograd, RowsTakenAtEveryStepGatherIntoOneGradient) {
  for (const bool through_a_non_leaf : {true, false}) {
    const Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2}).set_requires_grad(true);
    const Tensor source = through_a_non_leaf ? mul_scalar(x, 1.0) : x;
    Tensor total = zeros({2}, DType::F64);
    const int64_t order[] = {2, 0, 1, 0};
    for (int step = 0; step < 4; ++step) total = add(total, mul_scalar(source.row(order[step]), step + 1.0));
    total = add(total, sum(mul_scalar(source.narrow_rows(1, 2), 5.0), 0));
    sum(total).backward();
    // row 0: 2 + 4, row 1: 3 + 5, row 2: 1 + 5
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{6, 6, 8, 8, 6, 6})) << through_a_non_leaf;
  }
}

TEST(Autograd, NoGradientAccumulatorOutsideABackward) { EXPECT_FALSE(gradient_accumulator(0).defined()); }

TEST(Autograd, SavedOutputsDoNotKeepTheGraphAlive) {
  std::weak_ptr<Node> node;
  {
    Tensor x = leaf({0.5});
    Tensor y = sigmoid(x);  // saves its output
    node = y.grad_fn();
    EXPECT_FALSE(node.expired());
  }
  EXPECT_TRUE(node.expired());  // no reference cycle between y and its node
}

}  // namespace
}  // namespace sparsecap
