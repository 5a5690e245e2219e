#pragma once
// A pruning method is a transform on weights plus a few hooks the trainer calls around each step
// (DESIGN.md, "Pruning as a transform on weights"). Dense training is "no method".
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"

namespace sparsecap::pruning {

class PruningMethod {
 public:
  virtual ~PruningMethod() = default;
  virtual std::string name() const = 0;

  // Attach transforms to the model's prunable parameters and any extra parameter groups to the
  // optimizer. Called once, before the first step.
  virtual void begin(nn::Module& model, optim::Optimizer& optimizer) = 0;
  // Before the forward pass of `step` (1-based).
  virtual void before_step(int64_t step) { (void)step; }
  // Added to the task loss (undefined Tensor: nothing to add).
  virtual Tensor extra_loss(int64_t step) {
    (void)step;
    return Tensor();
  }
  virtual void after_optimizer_step(int64_t step) { (void)step; }
  // Bake the method into the weights (W ← W ⊙ mask) and detach every transform.
  virtual void finalize() = 0;

  // State to checkpoint beside the model and optimizer, keyed by name, and its restoration.
  virtual std::vector<std::pair<std::string, Tensor>> state_tensors() const { return {}; }
  virtual std::map<std::string, std::string> state_metadata() const { return {}; }
  virtual void load_state(const std::map<std::string, Tensor>& tensors,
                          const std::map<std::string, std::string>& metadata) {
    (void)tensors;
    (void)metadata;
  }
};

// Parameters a method prunes: weights and embedding tables, never biases or normalisation.
bool is_prunable(const nn::Parameter& parameter);

}  // namespace sparsecap::pruning
