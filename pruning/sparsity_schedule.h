#pragma once
// Zhu & Gupta's gradual pruning schedule ("To prune, or not to prune", 2017), with the exponent
// free as in the CNN-LSTM paper's polynomial decay (Rampal et al.): mask updates at steps
// t0, t0 + Δ, ..., tn, and at step t the target
//   s_t = s_f + (s_i − s_f)(1 − p)^e,  p = clip((t − t0) / (tn − t0), 0, 1)
// (p = 1 from tn on, also when tn = t0). Before t0 the schedule is s_i.
#include <cstdint>

namespace sparsecap::pruning {

struct PolynomialSparsitySchedule {
  double initial_sparsity = 0.0;  // s_i
  double final_sparsity = 0.9;    // s_f
  int64_t start_step = 1;         // t0, the first mask update
  int64_t end_step = 1;           // tn, the last mask update (>= t0, t0 + a multiple of Δ)
  int64_t update_every = 1000;    // Δ
  double exponent = 3.0;          // e

  double value(int64_t step) const;
  // t0, t0 + Δ, ..., tn.
  bool is_update_step(int64_t step) const;
};

// The reference's schedule for a run of `total_steps`: t0 = start_step,
// tn = t0 + Δ·n with n = max(0, ⌊(end_fraction·T − t0) / Δ⌋).
PolynomialSparsitySchedule zhu_gupta_schedule(double initial_sparsity, double final_sparsity, int64_t start_step,
                                              int64_t update_every, double end_fraction, double exponent,
                                              int64_t total_steps);

}  // namespace sparsecap::pruning
