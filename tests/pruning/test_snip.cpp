// SNIP's saliency against central finite differences of the loss in a multiplicative mask, summed
// over two batches and normalised; the masks keep the most salient weights globally.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "pruning/method_registry.h"
#include "pruning/snip.h"

namespace sparsecap::pruning {
namespace {

// L_b(W') = Σ tanh(W'_1 x_b) ⊙ (W'_2 y_b), a loss that couples the weights.
Tensor batch_loss(const Tensor& w1, const Tensor& w2, const Tensor& x, const Tensor& y) {
  return sum(mul(tanh(matmul(w1, x)), matmul(w2, y)));
}

TEST(Snip, SaliencyMatchesFiniteDifferencesOfTheLossInTheMask) {
  Generator generator(11);
  std::vector<nn::ParameterPtr> weights = {
      std::make_shared<nn::Parameter>("w1", nn::ParameterKind::Weight, randn({3, 4}, generator)),
      std::make_shared<nn::Parameter>("w2", nn::ParameterKind::Weight, randn({3, 5}, generator))};
  const std::vector<std::pair<Tensor, Tensor>> batches = {{randn({4, 2}, generator), randn({5, 2}, generator)},
                                                          {randn({4, 2}, generator), randn({5, 2}, generator)}};
  SnipPruning method(SnipOptions{.target_sparsity = 0.5, .batches = 2});
  method.attach(weights);
  ASSERT_EQ(method.initial_gradient_batches(), 2);
  for (const auto& [x, y] : batches) {  // as the trainer does
    for (const auto& weight : weights) weight->zero_grad();
    batch_loss(weights[0]->effective(), weights[1]->effective(), x, y).backward();
    method.observe_initial_gradients();
  }
  const std::vector<Tensor> saliency = method.saliency();

  // Central differences in float64 of Σ_b L_b(W ⊙ m) in each m_j around m = 1.
  const double h = 1e-4;
  auto total_loss = [&](size_t layer, int64_t index, double delta) {
    std::vector<Tensor> effective;
    for (size_t i = 0; i < weights.size(); ++i) {
      std::vector<double> mask(static_cast<size_t>(weights[i]->numel()), 1.0);
      if (i == layer) mask[static_cast<size_t>(index)] += delta;
      effective.push_back(mul(weights[i]->value().detach().to(DType::F64), from_vector(mask, weights[i]->shape())));
    }
    double loss = 0;
    for (const auto& [x, y] : batches)
      loss += batch_loss(effective[0], effective[1], x.to(DType::F64), y.to(DType::F64)).item();
    return loss;
  };
  std::vector<double> expected;
  for (size_t layer = 0; layer < weights.size(); ++layer)
    for (int64_t j = 0; j < weights[layer]->numel(); ++j)
      expected.push_back(std::abs(total_loss(layer, j, h) - total_loss(layer, j, -h)) / (2 * h));
  const double expected_total = std::accumulate(expected.begin(), expected.end(), 0.0);
  std::vector<float> actual = saliency[0].to_vector<float>();
  for (float v : saliency[1].to_vector<float>()) actual.push_back(v);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t j = 0; j < expected.size(); ++j) EXPECT_NEAR(actual[j], expected[j] / expected_total, 1e-5) << j;

  // Before step 1 the 14 most salient of 27 weights stay (one global threshold), the rest are zeroed.
  method.before_step(1);
  std::vector<size_t> order(expected.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return expected[a] > expected[b]; });
  std::vector<float> expected_mask(expected.size(), 0.0f);
  for (size_t k = 0; k < 14; ++k) expected_mask[order[k]] = 1.0f;
  std::vector<float> mask = method.masked_weights().masks()[0].to_vector<float>();
  for (float v : method.masked_weights().masks()[1].to_vector<float>()) mask.push_back(v);
  EXPECT_EQ(mask, expected_mask);
  EXPECT_NEAR(method.sparsity().sparsity(), 13.0 / 27.0, 1e-12);  // round(0.5 · 27) = 14 kept
  EXPECT_EQ(sum(mul(weights[0]->value(), sub(ones({3, 4}), method.masked_weights().masks()[0]))).item(), 0.0);
}

TEST(Snip, ConfigNamesTheOffendingKey) {
  EXPECT_EQ(resolve_pruning_config({{"method", "snip"}})["batches"], 1);
  for (const auto& [section, key] : std::vector<std::pair<nlohmann::json, std::string>>{
           {{{"method", "snip"}, {"batches", 0}}, "pruning.batches"},
           {{{"method", "snip"}, {"batch", 2}}, "pruning.batch"},
           {{{"method", "snip"}, {"target_sparsity", -0.1}}, "pruning.target_sparsity"}}) {
    try {
      resolve_pruning_config(section);
      ADD_FAILURE() << section.dump() << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace sparsecap::pruning
