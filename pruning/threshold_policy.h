#pragma once
// The sparse-LSTM paper's Type IV policy, the threshold algorithm of Narang et al. ("Exploring
// sparsity in recurrent neural networks", 2017): from iteration si to ei, every f iterations,
// weights with |w| <= ε(t) are pruned, with a threshold rising linearly,
//   ε(t) = s · (t − si + 1) / f,
// s the slope; pruned weights never return. The policy has no target sparsity: the sparsity it
// ends at is what the weights and the four hyper-parameters give (logged with the threshold).
// Built by pruning.method "lstm_policy" with type "IV" (pruning/lstm_policy.h).
#include <cstdint>
#include <optional>
#include <string>

#include "pruning/masked_weights.h"
#include "pruning/method.h"

namespace sparsecap::pruning {

struct ThresholdPolicySchedule {
  int64_t start_step = 2;    // si
  int64_t end_step = 2;      // ei (>= si): the last update at or before it
  int64_t update_every = 1;  // f
  double slope = 1e-4;       // s

  // ε at the latest update at or before `step` (0 before si): the threshold in effect.
  double threshold(int64_t step) const;
  bool is_update_step(int64_t step) const;
};

class ThresholdPolicyPruning : public PruningMethod {
 public:
  explicit ThresholdPolicyPruning(ThresholdPolicySchedule schedule);

  std::string name() const override { return "lstm_policy"; }
  void attach(const std::vector<nn::ParameterPtr>& weights) override { masked_.attach(weights); }
  void before_step(int64_t step) override;
  void after_optimizer_step(int64_t step) override;
  void finalize() override { masked_.finalize(); }

  SparsityReport sparsity() const override { return masked_.report(); }
  // No target: the masks are final once the last update (at or before ei) has run.
  bool target_reached() const override { return current_step_ >= schedule_.end_step; }
  // step, caption_loss, threshold, sparsity, nnz, per_mask_sparsity.
  nlohmann::json statistics_record(int64_t step, double caption_loss) const override;

  std::vector<std::pair<std::string, Tensor>> state_tensors() const override { return masked_.state_tensors(); }
  void load_state(const std::map<std::string, Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata) override;

  const ThresholdPolicySchedule& schedule() const { return schedule_; }
  const MaskedWeights& masked_weights() const { return masked_; }

 private:
  ThresholdPolicySchedule schedule_;
  MaskedWeights masked_;
  int64_t current_step_ = 0;
};

}  // namespace sparsecap::pruning
