#pragma once
// The sparse-LSTM paper's pruning policies (Lin et al., "Sparse LSTMs for image captioning"),
// sort-based: the masks are recomputed by |w| every `update_every` steps (every iteration in the
// paper) to the sparsity of the policy at that step.
//   Type I   sparsity k from the second iteration (step 2);
//   Type II  sparsity k from the second epoch (step steps_per_epoch + 1);
//   Type III from the second epoch, rising in n equal increments every f steps, reaching k at the
//            last increase at or before the first step of epoch ee:
//            n = ⌊(t_ee − t_2) / f⌋ + 1 and s(t) = k · (⌊(t − t_2) / f⌋ + 1) / n, capped at k.
//   Type IV  the threshold algorithm of Narang et al. with its four hyper-parameters
//            (start_iteration si, end_iteration ei, update_every f, slope s): no target sparsity;
//            pruning/threshold_policy.h.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "pruning/mask_thresholds.h"
#include "pruning/scheduled_mask_pruning.h"

namespace sparsecap::pruning {

enum class LstmPolicyType { I, II, III, IV };

struct LstmPolicyOptions {
  LstmPolicyType type = LstmPolicyType::I;
  double target_sparsity = 0.8;  // k
  int64_t increase_every = 1000;  // f (Type III)
  int64_t stop_epoch = 10;        // ee, 1-based (Type III): sparsity k from its first step on
  int64_t update_every = 1;       // mask recomputation period (1: every iteration, as the paper); f of Type IV
  int64_t start_iteration = 2;                 // si (Type IV)
  std::optional<int64_t> end_iteration = std::nullopt;  // ei (Type IV); default: half of the run
  std::optional<double> slope = std::nullopt;          // s (Type IV; required there)
  MaskScope scope = MaskScope::Uniform;
  double tolerance = 0.001;
};

// JSON: {"type" ("I", "II", "III", "IV"), "target_sparsity", "increase_every", "stop_epoch",
// "update_every", "start_iteration", "end_iteration", "slope", "scope", "tolerance"}; unknown keys
// and out-of-range values throw naming the key. Type IV uses only update_every, start_iteration,
// end_iteration and slope (which it requires).
void to_json(nlohmann::json& json, const LstmPolicyOptions& options);
void from_json(const nlohmann::json& json, LstmPolicyOptions& options);

class LstmPolicyPruning : public ScheduledMaskPruning {
 public:
  LstmPolicyPruning(LstmPolicyOptions options, int64_t steps_per_epoch);

  std::string name() const override { return "lstm_policy"; }
  double scheduled_sparsity(int64_t step) const override;
  bool updates_masks_at(int64_t step) const override;

  int64_t start_step() const { return start_step_; }  // the first pruned step
  int64_t increases() const { return increases_; }    // n (Type III; 1 otherwise)

 protected:
  std::vector<Tensor> compute_masks(double sparsity, int64_t step) override;

 private:
  LstmPolicyOptions options_;
  int64_t start_step_;
  int64_t increases_ = 1;
};

// Type IV's schedule (ei defaults to half of the run, at least si).
struct ThresholdPolicySchedule;
ThresholdPolicySchedule threshold_policy_schedule(const LstmPolicyOptions& options, int64_t total_steps);

struct PruningMethodRegistration;
PruningMethodRegistration lstm_policy_registration();

}  // namespace sparsecap::pruning
