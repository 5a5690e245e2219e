#include "pruning/sparsity_schedule.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace sparsecap::pruning {

double PolynomialSparsitySchedule::value(int64_t step) const {
  if (step < start_step) return initial_sparsity;
  const double progress =
      end_step > start_step
          ? std::clamp(static_cast<double>(step - start_step) / static_cast<double>(end_step - start_step), 0.0, 1.0)
          : 1.0;
  return final_sparsity + (initial_sparsity - final_sparsity) * std::pow(1.0 - progress, exponent);
}

bool PolynomialSparsitySchedule::is_update_step(int64_t step) const {
  return step >= start_step && step <= end_step && (step - start_step) % update_every == 0;
}

PolynomialSparsitySchedule zhu_gupta_schedule(double initial_sparsity, double final_sparsity, int64_t start_step,
                                              int64_t update_every, double end_fraction, double exponent,
                                              int64_t total_steps) {
  SPARSECAP_CHECK(start_step >= 1 && update_every >= 1, "gradual schedule: start_step ", start_step,
                  " and update_every ", update_every, " must be >= 1");
  const double span = end_fraction * static_cast<double>(total_steps) - static_cast<double>(start_step);
  const int64_t updates_after_start =
      span > 0 ? static_cast<int64_t>(std::floor(span / static_cast<double>(update_every))) : 0;
  return PolynomialSparsitySchedule{.initial_sparsity = initial_sparsity,
                                    .final_sparsity = final_sparsity,
                                    .start_step = start_step,
                                    .end_step = start_step + update_every * updates_after_start,
                                    .update_every = update_every,
                                    .exponent = exponent};
}

}  // namespace sparsecap::pruning
