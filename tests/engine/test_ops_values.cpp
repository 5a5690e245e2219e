// Forward values of the ops against hand computations and closed forms (gradients are covered
// by the finite-difference suite; these catch a forward that is wrong in a self-consistent way).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace sparsecap {
namespace {

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tolerance) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tolerance) << "element " << i;
}

TEST(OpValues, MatmulAndLinear) {
  const Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = from_vector<float>({7, 8, 9, 10, 11, 12}, {3, 2});
  expect_near(values(matmul(a, b)), {58, 64, 139, 154}, 0);
  const Tensor w = from_vector<float>({1, 0, -1, 2, 1, 0}, {2, 3});
  const Tensor bias = from_vector<float>({0.5f, -0.5f}, {2});
  expect_near(values(linear(a, w, bias)), {1 - 3 + 0.5, 2 + 2 - 0.5, 4 - 6 + 0.5, 8 + 5 - 0.5}, 1e-6);
}

// Batched float32 products go through one oneDNN matmul call (transposed operands read through
// their strides, a 2-D operand shared by the batch); the float64 path loops item by item. Forward
// and both gradients agree.
TEST(OpValues, BatchedSgemmMatchesDoubleReference) {
  Generator generator(5);
  const Tensor a = randn({6, 5, 7}, generator, DType::F64), b = randn({6, 7, 3}, generator, DType::F64);
  const Tensor shared = randn({5, 7}, generator, DType::F64), upstream = randn({6, 5, 3}, generator, DType::F64);
  const auto products = [&](DType dtype) {
    Tensor x = a.to(dtype), y = b.to(dtype), z = shared.to(dtype);
    x.set_requires_grad(true);
    y.set_requires_grad(true);
    z.set_requires_grad(true);
    const Tensor batched = matmul(x, y), broadcast = matmul(z, y);
    sum(mul(add(batched, broadcast), upstream.to(dtype))).backward();
    return std::vector<std::vector<double>>{values(batched), values(broadcast), values(x.grad()), values(y.grad()),
                                            values(z.grad())};
  };
  const auto single = products(DType::F32), reference = products(DType::F64);
  for (size_t i = 0; i < reference.size(); ++i) expect_near(single[i], reference[i], 2e-5);
  // Item 4 by hand.
  const std::vector<double> av = values(a), bv = values(b), cv = reference[0];
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t c = 0; c < 3; ++c) {
      double total = 0;
      for (int64_t p = 0; p < 7; ++p) total += av[static_cast<size_t>(4 * 35 + r * 7 + p)] * bv[static_cast<size_t>(4 * 21 + p * 3 + c)];
      EXPECT_NEAR(single[0][static_cast<size_t>(4 * 15 + r * 3 + c)], total, 2e-5);
      EXPECT_NEAR(cv[static_cast<size_t>(4 * 15 + r * 3 + c)], total, 1e-12);
    }
}

TEST(OpValues, LargeSgemmMatchesDoubleReference) {
  Generator generator(1);
  const Tensor a = randn({67, 130}, generator), b = randn({130, 45}, generator);
  const std::vector<double> got = values(matmul(a, b));
  const std::vector<double> want = values(matmul(a.to(DType::F64), b.to(DType::F64)));
  expect_near(got, want, 1e-4);
}

TEST(OpValues, SoftmaxFamily) {
  const Tensor x = from_vector<double>({1, 2, 3, 0, 0, 0}, {2, 3});
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  expect_near(values(softmax(x)), {std::exp(1.0) / z, std::exp(2.0) / z, std::exp(3.0) / z, 1 / 3.0, 1 / 3.0, 1 / 3.0},
              1e-12);
  expect_near(values(log_softmax(x)), {1 - std::log(z), 2 - std::log(z), 3 - std::log(z), -std::log(3.0),
                                       -std::log(3.0), -std::log(3.0)},
              1e-12);
  const Tensor mask = from_vector<double>({1, 0, 1}, {1, 3});
  const double zm = std::exp(1.0) + std::exp(3.0);
  expect_near(values(masked_softmax(x, mask)), {std::exp(1.0) / zm, 0, std::exp(3.0) / zm, 0.5, 0, 0.5}, 1e-12);
}

TEST(OpValues, CrossEntropyIsMeanOverCountedTargets) {
  const Tensor logits = from_vector<double>({0, 0, 0, 1, 2, 3, 5, 5, 5}, {3, 3});
  const Tensor targets = from_vector<int64_t>({2, 0, -100}, {3});
  const double row0 = std::log(3.0), row1 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 1.0;
  EXPECT_NEAR(cross_entropy(logits, targets).item(), (row0 + row1) / 2, 1e-12);
  EXPECT_DOUBLE_EQ(cross_entropy(logits, from_vector<int64_t>({-100, -100, -100}, {3})).item(), 0.0);
  EXPECT_THROW(cross_entropy(logits, from_vector<int64_t>({3, 0, 0}, {3})), Error);
}

TEST(OpValues, LayerNormAndBatchNorm) {
  const Tensor x = from_vector<double>({1, 2, 3, 4}, {1, 4});
  const double mu = 2.5, sd = std::sqrt(1.25 + 1e-5);
  expect_near(values(layer_norm(x, ones({4}, DType::F64), zeros({4}, DType::F64))),
              {(1 - mu) / sd, (2 - mu) / sd, (3 - mu) / sd, (4 - mu) / sd}, 1e-12);
  // Batch norm over N=2, H*W=1, one channel: values 1 and 3.
  const Tensor images = from_vector<double>({1, 3}, {2, 1, 1, 1});
  Tensor running_mean = zeros({1}, DType::F64), running_var = ones({1}, DType::F64);
  const std::vector<double> normalised =
      values(batch_norm(images, ones({1}, DType::F64), zeros({1}, DType::F64), running_mean, running_var, true, 0.1, 0));
  expect_near(normalised, {-1, 1}, 1e-12);
  EXPECT_NEAR(running_mean.item(), 0.1 * 2.0, 1e-12);
  EXPECT_NEAR(running_var.item(), 0.9 + 0.1 * 2.0, 1e-12);  // unbiased variance 2
  expect_near(values(batch_norm(images, ones({1}, DType::F64), zeros({1}, DType::F64), running_mean, running_var,
                                false, 0.1, 0)),
              {(1 - 0.2) / std::sqrt(1.1), (3 - 0.2) / std::sqrt(1.1)}, 1e-12);
}

// The reference form: (x - mean) / (std + eps) with the unbiased std, here 1 2 3 4: mean 2.5,
// std sqrt(5 / 3).
TEST(OpValues, ReferenceLayerNorm) {
  const Tensor x = from_vector<double>({1, 2, 3, 4}, {1, 4});
  const double mu = 2.5, s = std::sqrt(5.0 / 3.0) + 1e-6;
  const Tensor gamma = from_vector<double>({1, 2, 1, 1}, {4}), beta = from_vector<double>({0, 0, 0.5, 0}, {4});
  expect_near(values(reference_layer_norm(x, gamma, beta)),
              {(1 - mu) / s, 2 * (2 - mu) / s, (3 - mu) / s + 0.5, (4 - mu) / s}, 1e-12);
}

// A constant row (std 0, e.g. a padded region whose embedding is all zeros) normalises to beta and
// has the finite gradient of (x - mean) / eps: for L = sum(w y), dx = (gamma w - mean(gamma w)) / eps.
// Composed through sqrt, the backward gave 0 * inf = NaN there.
TEST(OpValues, ReferenceLayerNormOnAConstantRowHasAFiniteGradient) {
  Tensor x = from_vector<double>({0.7, 0.7, 0.7, 0.7, 1, -2, 0.5, 3}, {2, 4});
  Tensor gamma = from_vector<double>({1, 2, -1, 0.5}, {4});
  x.set_requires_grad(true);
  gamma.set_requires_grad(true);
  const Tensor beta = from_vector<double>({0.1, 0.2, 0.3, 0.4}, {4});
  const double eps = 1e-3;
  const Tensor y = reference_layer_norm(x, gamma, beta, eps);
  const std::vector<double> normalised = values(y);
  expect_near(std::vector<double>(normalised.begin(), normalised.begin() + 4), {0.1, 0.2, 0.3, 0.4}, 1e-12);
  const std::vector<double> w = {0.3, -1, 2, 0.25};
  sum(mul(y, from_vector<double>({0.3, -1, 2, 0.25, 0.3, -1, 2, 0.25}, {2, 4}))).backward();
  double mean_gw = 0;
  const std::vector<double> g = {1, 2, -1, 0.5};
  for (size_t i = 0; i < 4; ++i) mean_gw += g[i] * w[i] / 4;
  const std::vector<double> dx = values(x.grad());
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(dx[i], (g[i] * w[i] - mean_gw) / eps, 1e-9) << "element " << i;
  for (double v : dx) EXPECT_TRUE(std::isfinite(v));
  for (double v : values(gamma.grad())) EXPECT_TRUE(std::isfinite(v));
}

// Direct seven-loop convolution: a different algorithm from the backend's im2col and depthwise paths.
std::vector<double> naive_conv(const Tensor& x, const Tensor& w, int64_t stride, int64_t pad, int64_t groups) {
  const auto xv = values(x), wv = values(w);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t o = w.size(0), cg = w.size(1), k = w.size(2);
  const int64_t oh = (h + 2 * pad - k) / stride + 1, ow = (wd + 2 * pad - k) / stride + 1, og = o / groups;
  std::vector<double> out(static_cast<size_t>(n * o * oh * ow), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xx = 0; xx < ow; ++xx) {
          double total = 0;
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t ky = 0; ky < k; ++ky)
              for (int64_t kx = 0; kx < k; ++kx) {
                const int64_t iy = y * stride - pad + ky, ix = xx * stride - pad + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                const int64_t channel = (oc / og) * cg + ic;
                total += xv[static_cast<size_t>(((b * c + channel) * h + iy) * wd + ix)] *
                         wv[static_cast<size_t>(((oc * cg + ic) * k + ky) * k + kx)];
              }
          out[static_cast<size_t>(((b * o + oc) * oh + y) * ow + xx)] = total;
        }
  return out;
}

TEST(OpValues, Conv2dMatchesDirectConvolution) {
  Generator generator(2);
  struct Case { Shape x, w; int64_t stride, pad, groups; };
  for (const Case& c : {Case{{2, 3, 7, 6}, {4, 3, 3, 3}, 1, 1, 1}, Case{{1, 3, 8, 8}, {5, 3, 3, 3}, 2, 1, 1},
                        Case{{2, 4, 5, 5}, {6, 4, 1, 1}, 1, 0, 1}, Case{{2, 6, 6, 6}, {6, 1, 3, 3}, 2, 1, 6},
                        Case{{1, 4, 5, 5}, {4, 2, 3, 3}, 1, 1, 2}}) {
    const Tensor x = randn(c.x, generator), w = randn(c.w, generator);
    expect_near(values(conv2d(x, w, Tensor(), c.stride, c.pad, c.groups)),
                naive_conv(x, w, c.stride, c.pad, c.groups), 1e-4);
  }
}

TEST(OpValues, Pooling) {
  const Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {1, 1, 4, 4});
  expect_near(values(max_pool2d(x, 2, 2)), {6, 8, 14, 16}, 0);
  expect_near(values(avg_pool2d(x, 2, 2)), {3.5, 5.5, 11.5, 13.5}, 1e-6);
  expect_near(values(global_avg_pool2d(x)), {8.5}, 1e-6);
  // Padding counts as zeros in the average: top-left 3x3 window at pad 1 covers 1,2,5,6.
  EXPECT_NEAR(values(avg_pool2d(x, 3, 2, 1))[0], (1 + 2 + 5 + 6) / 9.0, 1e-6);
}

TEST(OpValues, IndexingAndShapes) {
  const Tensor table = from_vector<float>({0, 1, 10, 11, 20, 21}, {3, 2});
  expect_near(values(embedding(table, from_vector<int64_t>({2, 0, 2}, {3}))), {20, 21, 0, 1, 20, 21}, 0);
  expect_near(values(gather(table, from_vector<int64_t>({1, 0, 1}, {3, 1}))), {1, 10, 21}, 0);
  EXPECT_THROW(embedding(table, from_vector<int64_t>({3}, {1})), Error);
  const Tensor m = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_near(values(transpose(m)), {1, 4, 2, 5, 3, 6}, 0);
  expect_near(values(concat({m, m}, 1)), {1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}, 0);
  expect_near(values(narrow(m, 1, 1, 2)), {2, 3, 5, 6}, 0);
  expect_near(values(sum(m, 0)), {5, 7, 9}, 0);
  expect_near(values(max(m, 1)), {3, 6}, 0);
  EXPECT_EQ(argmax(m, 1).to_vector<int64_t>(), (std::vector<int64_t>{2, 2}));
}

TEST(OpValues, StridedSumsOverManyColumnsAreExact) {
  // Sums over a middle or leading dimension are split into column blocks across threads; widths
  // around and past a block (256) and outer sizes 1 (a bias gradient) and 3 check every column.
  for (const int64_t columns : {255, 256, 257, 700}) {
    for (const int64_t outer : {1, 3}) {
      const int64_t rows = 67;
      std::vector<float> data(static_cast<size_t>(outer * rows * columns));
      for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i % 97) - 48.0f;
      const Tensor x = from_vector(data, {outer, rows, columns});
      const std::vector<double> got = values(sum(x, 1));
      ASSERT_EQ(got.size(), static_cast<size_t>(outer * columns));
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < columns; ++j) {
          double want = 0;
          for (int64_t i = 0; i < rows; ++i) want += data[static_cast<size_t>((o * rows + i) * columns + j)];
          ASSERT_EQ(got[static_cast<size_t>(o * columns + j)], want) << "columns " << columns << " outer " << outer;
        }
    }
  }
}

// The fused additive attention against the ops it replaces, at a size that runs the CPU loops on
// several threads, forward and backward; and the backends' default composition (what a backend
// without a fused kernel runs) against the CPU's fused loops.
TEST(OpValues, AdditiveAttentionMatchesTheComposedOps) {
  const int64_t rows = 37, positions = 19, width = 70;
  Generator generator(11);
  const Tensor keys = randn({rows, positions, width}, generator).set_requires_grad(true);
  const Tensor query = randn({rows, width}, generator).set_requires_grad(true);
  const Tensor weight = mul_scalar(randn({1, width}, generator), 0.3).detach().set_requires_grad(true);
  const Tensor bias = randn({1}, generator).set_requires_grad(true);
  const Tensor upstream = randn({rows, positions}, generator);

  const Tensor fused = additive_attention(keys, query, weight, bias);
  sum(mul(fused, upstream)).backward();
  const std::vector<Tensor> fused_grads{keys.grad(), query.grad(), weight.grad(), bias.grad()};
  for (const Tensor& t : {keys, query, weight, bias}) t.zero_grad();

  const Tensor composed =
      linear(tanh(add(keys, unsqueeze(query, 1))), weight, bias).reshape({rows, positions});
  sum(mul(composed, upstream)).backward();
  const std::vector<Tensor> composed_grads{keys.grad(), query.grad(), weight.grad(), bias.grad()};

  expect_near(values(fused), values(composed), 1e-4);
  for (size_t i = 0; i < fused_grads.size(); ++i) {
    SCOPED_TRACE(i);
    expect_near(values(fused_grads[i]), values(composed_grads[i]), 1e-3);
  }

  NoGradGuard no_grad;
  Backend& backend = backend_for(Device::cpu());
  Tensor scores = zeros({rows, positions}), default_scores = zeros({rows, positions});
  backend.additive_attention(keys, query, weight, bias, scores, rows, positions, width);
  backend.Backend::additive_attention(keys, query, weight, bias, default_scores, rows, positions, width);
  expect_near(values(default_scores), values(scores), 1e-4);
  std::vector<Tensor> grads, default_grads;
  for (std::vector<Tensor>* out : {&grads, &default_grads})
    *out = {zeros({rows, positions, width}), zeros({rows, width}), zeros({1, width})};
  backend.additive_attention_backward(keys, query, weight, upstream, grads[0], false, grads[1], grads[2], rows,
                                      positions, width);
  backend.Backend::additive_attention_backward(keys, query, weight, upstream, default_grads[0], false,
                                               default_grads[1], default_grads[2], rows, positions, width);
  for (size_t i = 0; i < grads.size(); ++i) {
    SCOPED_TRACE(i);
    expect_near(values(default_grads[i]), values(grads[i]), 1e-3);
  }
  // Added to a running sum of the keys' gradient instead: the sum plus the same gradient.
  const Tensor running = add_scalar(zeros({rows, positions, width}), 0.5);
  for (const bool use_default : {false, true}) {
    SCOPED_TRACE(use_default);
    Tensor sum_keys = running.clone(), grad_query = zeros({rows, width}), grad_weight = zeros({1, width});
    if (use_default)
      backend.Backend::additive_attention_backward(keys, query, weight, upstream, sum_keys, true, grad_query,
                                                   grad_weight, rows, positions, width);
    else
      backend.additive_attention_backward(keys, query, weight, upstream, sum_keys, true, grad_query, grad_weight,
                                          rows, positions, width);
    expect_near(values(sum_keys), values(add_scalar(grads[0], 0.5)), 1e-3);
    expect_near(values(grad_query), values(grads[1]), 1e-3);
  }
}

TEST(OpValues, AKeysGradientFromEveryStepIsSummedOnce) {
  // A decoder's shape: the same keys scored at several steps, so autograd offers their running
  // gradient to the later steps' backward to add into.
  const int64_t rows = 3, positions = 5, width = 8;
  Generator generator(5);
  const Tensor keys_leaf = randn({rows, positions, width}, generator).set_requires_grad(true);
  const Tensor weight = randn({1, width}, generator).set_requires_grad(true);
  const Tensor keys = mul_scalar(keys_leaf, 1.0);  // a node, as a decoder's repeated keys are
  std::vector<Tensor> queries;
  Tensor total = zeros({rows, positions});
  for (int step = 0; step < 4; ++step) {
    queries.push_back(randn({rows, width}, generator));
    total = add(total, additive_attention(keys, queries.back(), weight));
  }
  sum(total).backward();
  const Tensor fused_keys = keys_leaf.grad(), fused_weight = weight.grad();
  keys_leaf.zero_grad();
  weight.zero_grad();
  Tensor composed = zeros({rows, positions});
  for (const Tensor& query : queries)
    composed = add(composed, linear(tanh(add(keys, unsqueeze(query, 1))), weight).reshape({rows, positions}));
  sum(composed).backward();
  expect_near(values(fused_keys), values(keys_leaf.grad()), 1e-4);
  expect_near(values(fused_weight), values(weight.grad()), 1e-4);
}

TEST(OpValues, TopKRanksEachRowLikeAStableSortDescending) {
  // Ties go to the lower index (argmax's rule), -inf entries come last.
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor x = from_vector<float>({0.5f, 2, 2, -1, 7, /**/ -static_cast<float>(inf), 3, 3, 3, -2}, {2, 5});
  const auto [values3, indices3] = top_k(x, 3);
  EXPECT_EQ(values3.shape(), (Shape{2, 3}));
  expect_near(values(values3), {7, 2, 2, 3, 3, 3}, 0);
  EXPECT_EQ(indices3.to_vector<int64_t>(), (std::vector<int64_t>{4, 1, 2, 1, 2, 3}));
  const auto [values5, indices5] = top_k(x, 5);
  EXPECT_EQ(indices5.to_vector<int64_t>(), (std::vector<int64_t>{4, 1, 2, 0, 3, 1, 2, 3, 4, 0}));
  EXPECT_EQ(values5.to_vector<float>().back(), -static_cast<float>(inf));
  // Against a stable sort of random rows, leading dims kept.
  Generator generator(3);
  const Tensor r = randn({2, 3, 40}, generator);
  const auto [top_values, top_indices] = top_k(r, 6);
  EXPECT_EQ(top_indices.shape(), (Shape{2, 3, 6}));
  const std::vector<float> all = r.to_vector<float>(), got = top_values.to_vector<float>();
  const std::vector<int64_t> got_indices = top_indices.to_vector<int64_t>();
  for (int64_t row = 0; row < 6; ++row) {
    std::vector<int64_t> order(40);
    for (int64_t i = 0; i < 40; ++i) order[static_cast<size_t>(i)] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return all[static_cast<size_t>(row * 40 + a)] > all[static_cast<size_t>(row * 40 + b)]; });
    for (int64_t j = 0; j < 6; ++j) {
      EXPECT_EQ(got_indices[static_cast<size_t>(row * 6 + j)], order[static_cast<size_t>(j)]) << row << " " << j;
      EXPECT_EQ(got[static_cast<size_t>(row * 6 + j)], all[static_cast<size_t>(row * 40 + order[static_cast<size_t>(j)])]);
    }
  }
  EXPECT_THROW(top_k(x, 0), Error);
  EXPECT_THROW(top_k(x, 6), Error);
}

TEST(OpValues, DropoutKeepsExpectationAndIsDeterministicPerSeed) {
  Generator a(11), b(11);
  const Tensor x = ones({100000});
  const std::vector<float> first = dropout(x, 0.25, true, a).to_vector<float>();
  EXPECT_EQ(first, dropout(x, 0.25, true, b).to_vector<float>());
  double total = 0;
  for (float v : first) {
    EXPECT_TRUE(v == 0.0f || std::abs(v - 1.0f / 0.75f) < 1e-6f);
    total += v;
  }
  EXPECT_NEAR(total / 100000.0, 1.0, 0.01);
  EXPECT_EQ(dropout(x, 0.25, false, a).impl(), x.impl());  // evaluation: identity
}

TEST(OpValues, ElementwiseClosedForms) {
  const Tensor x = from_vector<double>({-2, 0, 3}, {3});
  expect_near(values(sigmoid(x)), {1 / (1 + std::exp(2.0)), 0.5, 1 / (1 + std::exp(-3.0))}, 1e-15);
  expect_near(values(sigmoid(from_vector<double>({-800, 800}, {2}))), {0, 1}, 0);  // no overflow
  expect_near(values(relu(x)), {0, 0, 3}, 0);
  expect_near(values(clamp(x, -1, 1)), {-1, 0, 1}, 0);
  expect_near(values(pow(from_vector<double>({4}, {1}), 1.5)), {8}, 1e-12);
  expect_near(values(maximum(x, from_vector<double>({0}, {1}))), {0, 0, 3}, 0);
  expect_near(values(div(x, full({3}, 2.0, DType::F64))), {-1, 0, 1.5}, 0);
}

}  // namespace
}  // namespace sparsecap
