#pragma once
// A pruning method is a transform on weights plus a few hooks the trainer calls around each step
// (DESIGN.md, "Pruning as a transform on weights"). Dense training is the method "none".
// pruning/method_registry.h builds methods from the run config's "pruning" section.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/nn/parameter.h"
#include "engine/optim/optimizer.h"
#include "pruning/report.h"

namespace sparsecap::pruning {

class PruningMethod {
 public:
  virtual ~PruningMethod() = default;
  // The registry key ("none", "supermask").
  virtual std::string name() const = 0;

  // Attach the method's transforms to `weights` (the captioner's prunable parameters, in model
  // order) without training anything: enough to load a checkpoint's state and finalize.
  virtual void attach(const std::vector<nn::ParameterPtr>& weights) = 0;
  // attach() and any extra parameter groups of the optimizer. Called once, before the first step.
  virtual void begin(const std::vector<nn::ParameterPtr>& weights, optim::Optimizer& optimizer) {
    (void)optimizer;
    attach(weights);
  }
  // Batches whose loss gradients the method needs before step 1 (SNIP's saliency at the
  // initialisation), 0 for none. The trainer runs a forward and backward pass on each of the first
  // that many training batches and calls observe_initial_gradients() after each; no weight moves.
  virtual int64_t initial_gradient_batches() const { return 0; }
  // The prunable weights' gradients hold dL/dW' of one such batch alone.
  virtual void observe_initial_gradients() {}
  // Before the forward pass of `step` (1-based).
  virtual void before_step(int64_t step) { (void)step; }
  // Added to the task loss (undefined Tensor: nothing to add).
  virtual Tensor extra_loss(int64_t step) {
    (void)step;
    return Tensor();
  }
  virtual void after_optimizer_step(int64_t step) { (void)step; }
  // The step (1-based) at which training starts over, 0 for never: before it the trainer clears
  // the optimizer's per-parameter state (moments) and from it runs the learning-rate schedule
  // afresh over the remaining steps (hard pruning's fine-tuning, the lottery ticket's retraining).
  // A function of the config and the run's length: the trainer asks once, before step 1.
  virtual int64_t restart_step() const { return 0; }
  // Bake the method into the weights (W ← W ⊙ mask) and detach every transform.
  virtual void finalize() = 0;

  // The sparsity the method aims at (none for dense training), and the sparsity it would give if
  // finalized now, overall and per weight.
  virtual std::optional<double> target_sparsity() const { return std::nullopt; }
  virtual SparsityReport sparsity() const = 0;
  // Whether a checkpoint taken now counts as pruned to the target (the trainer keeps the best
  // validation score only among those).
  virtual bool target_reached() const { return true; }

  // One JSONL record of the method's statistics at `step`, with the caption loss.
  virtual nlohmann::json statistics_record(int64_t step, double caption_loss) const {
    return {{"step", step}, {"caption_loss", caption_loss}};
  }

  // Tensors of the method worth a histogram, by tag ("gate_logits/decoder.logit.weight").
  virtual std::vector<std::pair<std::string, Tensor>> histogram_tensors() const { return {}; }

  // State to checkpoint beside the model and optimizer, keyed by name, and its restoration.
  virtual std::vector<std::pair<std::string, Tensor>> state_tensors() const { return {}; }
  virtual std::map<std::string, std::string> state_metadata() const { return {}; }
  virtual void load_state(const std::map<std::string, Tensor>& tensors,
                          const std::map<std::string, std::string>& metadata) {
    (void)tensors;
    (void)metadata;
  }
};

}  // namespace sparsecap::pruning
