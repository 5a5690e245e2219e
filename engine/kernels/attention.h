#pragma once
// Additive (Bahdanau) attention scores, written once for the backends' fused loops:
//   score[n, p] = bias + sum_a w[a] tanh(keys[n, p, a] + query[n, a])
// Unfused, that is an add, a tanh and a one-column GEMM, each a pass over the [rows, positions,
// width] energies, and their backward five more; fused, the forward reads the keys once and the
// backward reads them once more and writes their gradient, recomputing the tanh instead of saving
// it. The functors handle one (n, p, a) term; the loops own the sums.

#include "engine/kernels/hd.h"
#include "engine/kernels/math.h"

namespace sparsecap::kernels {

// w tanh(k + q): one term of a score.
template <typename T>
struct AdditiveScoreTerm {
  HD T operator()(T key, T query, T weight) const { return weight * tanh(key + query); }
};

// The backward of one term from the score's gradient g: with t = tanh(k + q), the gradient of the
// energy k + q (both the key's and, summed over positions, the query's) is g w (1 - t^2), and the
// weight's gradient gathers g t.
template <typename T>
struct AdditiveScoreTermGrad {
  HD void operator()(T key, T query, T weight, T grad_score, T& grad_energy, T& grad_weight_term) const {
    const T t = tanh(key + query);
    grad_energy = grad_score * weight * (T(1) - t * t);
    grad_weight_term = grad_score * t;
  }
};

}  // namespace sparsecap::kernels
