// Additive attention scores on the CPU: one pass over the keys forward and one backward, calling
// the shared functors of engine/kernels/attention.h, rows spread over the cores.
#include <algorithm>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/kernels/attention.h"

namespace sparsecap::cpu {

namespace {

// A term costs a tanh polynomial, so threads pay off at an eighth of the grain of plain copies.
constexpr int64_t kAttentionGrain = kParallelGrain / 8;

// Rows whose weight-gradient terms one task sums; the tasks' sums are then added in task order.
// A fixed split, so the weight's gradient does not depend on the thread count.
constexpr int64_t kRowsPerTask = 4;

template <typename T>
SPARSECAP_VECTOR_CLONES void scores_loop(const T* keys, const T* query, const T* weight, T bias, T* scores,
                                         int64_t rows, int64_t positions, int64_t width) {
  const kernels::AdditiveScoreTerm<T> term{};
#pragma omp parallel for schedule(static) if (rows * positions * width > kAttentionGrain)
  for (int64_t n = 0; n < rows; ++n) {
    const T* q = query + n * width;
    for (int64_t p = 0; p < positions; ++p) {
      const T* k = keys + (n * positions + p) * width;
      T total = 0;
#pragma omp simd reduction(+ : total)
      for (int64_t a = 0; a < width; ++a) total += term(k[a], q[a], weight[a]);
      scores[n * positions + p] = bias + total;
    }
  }
}

// grad_keys is written whole, or added to when Add; grad_query is written whole; weight_partials
// [tasks, width] receives each task's sum of weight-gradient terms.
template <typename T, bool Add>
SPARSECAP_VECTOR_CLONES void scores_backward_loop(const T* keys, const T* query, const T* weight, const T* grad_scores,
                                                  T* grad_keys, T* grad_query, T* weight_partials, int64_t rows,
                                                  int64_t positions, int64_t width) {
  const kernels::AdditiveScoreTermGrad<T> term_grad{};
  const int64_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
#pragma omp parallel for schedule(static) if (rows * positions * width > kAttentionGrain)
  for (int64_t task = 0; task < tasks; ++task) {
    T* gw = weight_partials + task * width;
    std::fill(gw, gw + width, T(0));
    const int64_t end = std::min(rows, (task + 1) * kRowsPerTask);
    for (int64_t n = task * kRowsPerTask; n < end; ++n) {
      const T* q = query + n * width;
      T* gq = grad_query + n * width;
      std::fill(gq, gq + width, T(0));
      for (int64_t p = 0; p < positions; ++p) {
        const int64_t row = n * positions + p;
        const T* k = keys + row * width;
        T* gk = grad_keys + row * width;
        const T g = grad_scores[row];
#pragma omp simd
        for (int64_t a = 0; a < width; ++a) {
          T grad_energy, grad_weight_term;
          term_grad(k[a], q[a], weight[a], g, grad_energy, grad_weight_term);
          gk[a] = Add ? gk[a] + grad_energy : grad_energy;
          gq[a] += grad_energy;
          gw[a] += grad_weight_term;
        }
      }
    }
  }
}

}  // namespace

void CpuBackend::additive_attention(const Tensor& keys, const Tensor& query, const Tensor& weight,
                                    const Tensor& bias, Tensor& scores, int64_t rows, int64_t positions,
                                    int64_t width) {
  dispatch_floating(keys.dtype(), "additive_attention", [&](auto tag) {
    using T = decltype(tag);
    const T bias_value = bias.defined() ? bias.data<T>()[0] : T(0);
    scores_loop<T>(keys.data<T>(), query.data<T>(), weight.data<T>(), bias_value, scores.data<T>(), rows, positions,
                   width);
  });
}

void CpuBackend::additive_attention_backward(const Tensor& keys, const Tensor& query, const Tensor& weight,
                                             const Tensor& grad_scores, Tensor& grad_keys, bool add_to_grad_keys,
                                             Tensor& grad_query, Tensor& grad_weight, int64_t rows,
                                             int64_t positions, int64_t width) {
  dispatch_floating(keys.dtype(), "additive_attention_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
    std::vector<T> weight_partials(static_cast<size_t>(tasks * width));
    if (add_to_grad_keys)
      scores_backward_loop<T, true>(keys.data<T>(), query.data<T>(), weight.data<T>(), grad_scores.data<T>(),
                                    grad_keys.data<T>(), grad_query.data<T>(), weight_partials.data(), rows,
                                    positions, width);
    else
      scores_backward_loop<T, false>(keys.data<T>(), query.data<T>(), weight.data<T>(), grad_scores.data<T>(),
                                     grad_keys.data<T>(), grad_query.data<T>(), weight_partials.data(), rows,
                                     positions, width);
    T* gw = grad_weight.data<T>();
    for (int64_t a = 0; a < width; ++a) {
      double total = 0;
      for (int64_t task = 0; task < tasks; ++task) total += static_cast<double>(weight_partials[task * width + a]);
      gw[a] = static_cast<T>(total);
    }
  });
}

}  // namespace sparsecap::cpu
