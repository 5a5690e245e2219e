#pragma once
// One-shot lottery ticket (Frankle & Carbin 2019) as the Supermask paper's baseline runs it: the
// initialisation is saved at step 0, the dense model trains, its masks come from one-shot
// magnitude pruning of the trained weights (scope as in hard pruning), every parameter is reset to
// its saved initial value bit for bit, and the sparse network retrains from there with the masks
// fixed, a fresh optimizer state and a restarted learning-rate schedule. In one run: the first
// ⌊reset_fraction·T⌋ steps train the network the masks come from, the reset comes before the next
// one, and the ticket retrains to the end. With masks_from "gradual" (the paper's gradual
// variant) the first phase is a gradual-pruning run (Zhu & Gupta's cubic schedule from the first
// step of epoch 2 to half of the phase, every update_every steps) whose masks the ticket keeps.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pruning/mask_thresholds.h"
#include "pruning/scheduled_mask_pruning.h"
#include "pruning/sparsity_schedule.h"

namespace sparsecap::pruning {

enum class LotteryMaskSource { Hard, Gradual };

struct LotteryOptions {
  double target_sparsity = 0.9;
  LotteryMaskSource masks_from = LotteryMaskSource::Hard;
  int64_t update_every = 1000;  // Δ of the gradual variant's first phase
  MaskScope scope = MaskScope::Blind;
  double reset_fraction = 0.5;  // of the run that trains the dense model the masks come from
  double tolerance = 0.001;
};

// JSON: {"target_sparsity", "masks_from" ("hard", "gradual"), "update_every", "scope",
// "reset_fraction", "tolerance"}; unknown keys and
// out-of-range values throw naming the key.
void to_json(nlohmann::json& json, const LotteryOptions& options);
void from_json(const nlohmann::json& json, LotteryOptions& options);

class LotteryPruning : public ScheduledMaskPruning {
 public:
  LotteryPruning(LotteryOptions options, int64_t total_steps, int64_t steps_per_epoch);

  std::string name() const override { return "lottery"; }
  // Masks on `weights`, and a copy of every parameter the optimizer trains (biases and norms too:
  // the whole network goes back to its initialisation).
  void begin(const std::vector<nn::ParameterPtr>& weights, optim::Optimizer& optimizer) override;
  // At reset_step: masks from the trained weights, then every parameter back to step 0.
  void before_step(int64_t step) override;
  int64_t restart_step() const override { return reset_step_; }
  double scheduled_sparsity(int64_t step) const override;
  bool updates_masks_at(int64_t step) const override;

  int64_t reset_step() const { return reset_step_; }  // ⌊reset_fraction·T⌋ + 1

  // Masks and the saved initialisation ("<parameter name>.initial").
  std::vector<std::pair<std::string, Tensor>> state_tensors() const override;
  void load_state(const std::map<std::string, Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata) override;

 protected:
  std::vector<Tensor> compute_masks(double sparsity, int64_t step) override;

 private:
  void reset_to_initialisation();

  LotteryOptions options_;
  int64_t reset_step_;
  PolynomialSparsitySchedule first_phase_;  // the gradual variant's schedule over steps 1..reset−1
  std::vector<nn::ParameterPtr> parameters_;  // every trained parameter
  std::vector<Tensor> initial_;               // initial_[i]: parameters_[i] at step 0
};

struct PruningMethodRegistration;
PruningMethodRegistration lottery_registration();

}  // namespace sparsecap::pruning
