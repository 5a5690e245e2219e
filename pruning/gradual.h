#pragma once
// Gradual magnitude pruning from scratch (Zhu & Gupta 2017) as the reference runs it: the masks
// are recomputed by |w| every `update_every` steps from the start of epoch 2 until about half of
// training, to the polynomial schedule of pruning/sparsity_schedule.h (cubic by default; the
// CNN-LSTM paper's polynomial decay with another `exponent`). Class-uniform by default.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "pruning/mask_thresholds.h"
#include "pruning/scheduled_mask_pruning.h"
#include "pruning/sparsity_schedule.h"

namespace sparsecap::pruning {

struct GradualPruningOptions {
  double target_sparsity = 0.9;               // s_f
  double initial_sparsity = 0.0;              // s_i
  std::optional<int64_t> start_step = std::nullopt;  // t0; default: the first step of epoch 2
  int64_t update_every = 1000;                // Δ
  double end_fraction = 0.5;                  // tn ≈ end_fraction · T
  double exponent = 3.0;                      // e
  MaskScope scope = MaskScope::Uniform;
  double tolerance = 0.001;
};

// JSON: {"target_sparsity", "initial_sparsity", "start_step" (null: one epoch), "update_every",
// "end_fraction", "exponent", "scope", "tolerance"}; unknown keys and out-of-range values throw.
void to_json(nlohmann::json& json, const GradualPruningOptions& options);
void from_json(const nlohmann::json& json, GradualPruningOptions& options);

class GradualPruning : public ScheduledMaskPruning {
 public:
  GradualPruning(GradualPruningOptions options, PolynomialSparsitySchedule schedule);

  std::string name() const override { return "gradual"; }
  double scheduled_sparsity(int64_t step) const override { return schedule_.value(step); }
  bool updates_masks_at(int64_t step) const override { return schedule_.is_update_step(step); }
  const PolynomialSparsitySchedule& schedule() const { return schedule_; }

 protected:
  std::vector<Tensor> compute_masks(double sparsity, int64_t step) override;

 private:
  GradualPruningOptions options_;
  PolynomialSparsitySchedule schedule_;
};

struct PruningMethodRegistration;
struct PruningRunInfo;
PruningMethodRegistration gradual_registration();
// The schedule of `options` for a run (t0 defaults to the first step of epoch 2,
// run.steps_per_epoch + 1).
PolynomialSparsitySchedule gradual_schedule(const GradualPruningOptions& options, const PruningRunInfo& run);

}  // namespace sparsecap::pruning
