#pragma once
// One-shot lottery ticket (Frankle & Carbin 2019) as the Supermask paper's baseline runs it: the
// initialisation is saved at step 0, the dense model trains, its masks come from one-shot
// magnitude pruning of the trained weights (scope as in hard pruning), every parameter is reset to
// its saved initial value bit for bit, and the sparse network retrains from there with the masks
// fixed, a fresh optimizer state and a restarted learning-rate schedule. In one run: dense for the
// first ⌊reset_fraction·T⌋ steps, reset before the next one, retrained to the end.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pruning/mask_thresholds.h"
#include "pruning/scheduled_mask_pruning.h"

namespace sparsecap::pruning {

struct LotteryOptions {
  double target_sparsity = 0.9;
  MaskScope scope = MaskScope::Blind;
  double reset_fraction = 0.5;  // of the run that trains the dense model the masks come from
  double tolerance = 0.001;
};

// JSON: {"target_sparsity", "scope", "reset_fraction", "tolerance"}; unknown keys and
// out-of-range values throw naming the key.
void to_json(nlohmann::json& json, const LotteryOptions& options);
void from_json(const nlohmann::json& json, LotteryOptions& options);

class LotteryPruning : public ScheduledMaskPruning {
 public:
  LotteryPruning(LotteryOptions options, int64_t total_steps);

  std::string name() const override { return "lottery"; }
  // Masks on `weights`, and a copy of every parameter the optimizer trains (biases and norms too:
  // the whole network goes back to its initialisation).
  void begin(const std::vector<nn::ParameterPtr>& weights, optim::Optimizer& optimizer) override;
  // At reset_step: masks from the trained weights, then every parameter back to step 0.
  void before_step(int64_t step) override;
  int64_t restart_step() const override { return reset_step_; }
  double scheduled_sparsity(int64_t step) const override;
  bool updates_masks_at(int64_t step) const override { return step == reset_step_; }

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
  std::vector<nn::ParameterPtr> parameters_;  // every trained parameter
  std::vector<Tensor> initial_;               // initial_[i]: parameters_[i] at step 0
};

struct PruningMethodRegistration;
PruningMethodRegistration lottery_registration();

}  // namespace sparsecap::pruning
