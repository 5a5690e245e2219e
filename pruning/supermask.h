#pragma once
// Supermask Pruning (Tan, Chan & Chuah, Pattern Recognition 2022): every prunable weight W gets a
// gate G of its shape (initialised to 5.0, σ(5) ≈ 0.993); training computes with
// W ⊙ Bern(σ(G)), evaluation with W ⊙ [G > 0]; the annealed sparsity loss drives the share of
// closed gates to the target. Defaults follow the reference code (shared/REFERENCE-NOTES.md).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pruning/method.h"
#include "pruning/report.h"
#include "pruning/sparsity_loss.h"

namespace sparsecap::pruning {

struct SupermaskOptions {
  double target_sparsity = 0.9;
  std::optional<double> sparsity_weight = std::nullopt;  // λ; default max(5, 0.5 / (1 − target))
  int64_t total_steps = 0;                // T of the annealing: all training steps of the run
  double gate_init = 5.0;
  double gate_learning_rate = 100.0;      // constant: no schedule
  double gate_eps = 1e-2;
  uint64_t seed = 0;                      // Philox seed of the mask draws
  // false: one mask per training step (the TensorFlow reference; cheaper); true: a new mask at
  // every use of the weight, e.g. every LSTM time step (the PyTorch reference).
  bool resample_per_call = false;
  // A checkpoint counts as pruned to the target when |sparsity − target| <= tolerance.
  double tolerance = 0.005;
};

// JSON: {"target_sparsity", "sparsity_weight" (null: the default), "gate_init",
// "gate_learning_rate", "gate_eps", "resample_per_call", "tolerance"}; total_steps and seed come
// from the run. Missing keys keep defaults; unknown keys and out-of-range values throw.
void to_json(nlohmann::json& json, const SupermaskOptions& options);
void from_json(const nlohmann::json& json, SupermaskOptions& options);

// The per-weight transform attached to each gated Parameter.
class GatedWeightTransform;

class SupermaskPruning : public PruningMethod {
 public:
  explicit SupermaskPruning(SupermaskOptions options);
  ~SupermaskPruning() override;

  std::string name() const override { return "supermask"; }
  // attach() and the gates' optimizer group.
  void begin(const std::vector<nn::ParameterPtr>& weights, optim::Optimizer& optimizer) override;
  // Gates on every weight of `weights`, without training them: enough to load a checkpoint's
  // gates and evaluate or finalize.
  void attach(const std::vector<nn::ParameterPtr>& weights) override;
  void before_step(int64_t step) override;
  Tensor extra_loss(int64_t step) override;  // λ·α(t)·L_s
  void finalize() override;

  std::optional<double> target_sparsity() const override { return options_.target_sparsity; }
  SparsityReport sparsity() const override { return gate_sparsity(); }
  bool target_reached() const override;

  // Fine-tuning after pruning (e.g. self-critical): masks binarised from the gates and fixed;
  // gates stop training.
  void freeze();
  bool frozen() const { return frozen_; }

  std::vector<std::pair<std::string, Tensor>> state_tensors() const override;
  std::map<std::string, std::string> state_metadata() const override;
  void load_state(const std::map<std::string, Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata) override;

  // ---- what people studying the gates look at ----
  const SupermaskOptions& options() const { return options_; }
  double sparsity_weight() const;  // λ in use
  const std::vector<nn::ParameterPtr>& gates() const { return gates_; }
  // Sparsity of the maximum-likelihood mask (G > 0), overall and per gated weight.
  SparsityReport gate_sparsity() const;
  double mean_gate_logit() const;
  // Weights whose ML keep/prune state differs from the previous call (all kept before the first).
  int64_t gates_changed_since_last_call();
  // Histogram of gate logits over [low, high] in `bins` bins (values outside land in the end bins).
  std::vector<int64_t> gate_histogram(int bins, double low, double high) const;
  // One JSONL record of the reference's logged statistics at `step`.
  nlohmann::json statistics_record(int64_t step, double caption_loss) const override;
  // The gate logits of every gated weight ("gate_logits/<weight name>").
  std::vector<std::pair<std::string, Tensor>> histogram_tensors() const override;

 private:
  SupermaskOptions options_;
  std::vector<nn::ParameterPtr> weights_;  // gated parameters, in model order
  std::vector<nn::ParameterPtr> gates_;    // gates_[i] gates weights_[i]
  std::vector<std::shared_ptr<GatedWeightTransform>> transforms_;
  std::vector<Tensor> previous_masks_;
  bool frozen_ = false;
  int64_t current_step_ = 0;
  Tensor last_sparsity_loss_;  // L_s of the latest extra_loss on the gates' device, read for statistics
};

// The registry's entry for "supermask" (pruning/method_registry.h).
struct PruningMethodRegistration;
PruningMethodRegistration supermask_registration();

}  // namespace sparsecap::pruning
