#pragma once
// Optimizer: parameter groups, each with its own learning-rate schedule and optional overrides of
// the optimizer's hyperparameters, and per-parameter state (step count, moment buffers) that can
// be exported as named tensors + metadata for checkpoints and imported to continue bit-identically.
//
// State tensors are keyed "<parameter name>.<slot>" ("decoder.att.w_q.exp_avg",
// "decoder.att.w_q.step"); metadata keys start with "optimizer.". A checkpoint that stores model
// weights beside them should prefix one of the two sets.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/nn/parameter.h"
#include "engine/optim/schedule.h"
#include "engine/tensor.h"

namespace sparsecap::optim {

struct ParameterGroup {
  std::string name = "default";  // names the group in logs and checkpoint metadata ("main", "gates")
  std::vector<nn::ParameterPtr> parameters{};
  SchedulePtr schedule{};  // required
  // Overrides of the optimizer's defaults; unset inherits. Only the options the optimizer has may
  // be set (SGD: weight_decay, momentum; Adam/AdamW: weight_decay, eps, beta1, beta2).
  std::optional<double> weight_decay = std::nullopt;
  std::optional<double> eps = std::nullopt;
  std::optional<double> beta1 = std::nullopt;
  std::optional<double> beta2 = std::nullopt;
  std::optional<double> momentum = std::nullopt;
};

struct OptimizerState {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that requires a gradient and has one (others are skipped and
  // their state does not advance). Runs without recording autograd history. Throws, changing
  // nothing, when a gradient's shape, dtype or device is not its parameter's.
  void step();
  void zero_grad();
  // Forgets every parameter's state (moments, update counts), as a fresh optimizer would have;
  // the step count, and so the learning-rate schedules, go on.
  void reset_state() { state_.clear(); }

  // Adds a group after construction (a pruning method's gates). Its parameters must not already
  // belong to a group, and must have distinct names.
  void add_parameter_group(ParameterGroup group);

  const std::string& kind() const { return kind_; }  // "sgd", "adam", "adamw"
  int64_t step_count() const { return step_count_; }
  // The learning rate of the group's most recent step (of step 1 before any step).
  double learning_rate(size_t group_index) const;
  const std::vector<ParameterGroup>& groups() const { return groups_; }
  std::vector<nn::ParameterPtr> parameters() const;  // of all groups, in order

  // Deep copies of the state, keyed by parameter name, and the metadata that goes with it.
  OptimizerState state_tensors() const;
  // Validates everything first (kind, unexpected keys, incomplete or mis-shaped state), throwing
  // one Error that lists every problem; then replaces the state. Parameters with no entries
  // start fresh, as they would have before their first gradient.
  void load_state_tensors(const OptimizerState& state);

 protected:
  // Derived constructors add their groups with add_parameter_group (its checks call the virtual
  // accepted_group_options, which only resolves to the derived class once it is being built).
  explicit Optimizer(std::string kind);

  // Names of the per-parameter buffers for a group, in the order update() receives them.
  virtual std::vector<std::string> slot_names(const ParameterGroup& group) const = 0;
  // Options this optimizer accepts in a group (others set there are an error).
  virtual std::vector<std::string> accepted_group_options() const = 0;
  // One update. `slots` are this parameter's buffers (zeros before its first step);
  // `parameter_step` counts this parameter's updates, 1 on its first.
  virtual void update(const ParameterGroup& group, nn::Parameter& parameter, const Tensor& grad,
                      std::vector<Tensor>& slots, int64_t parameter_step, double lr) = 0;
  // Around a step's update() calls, for an optimizer that queues its updates and applies them
  // together (Adam: one launch for all parameters on a GPU). begin_updates also runs after a step
  // that threw, so nothing queued then is applied later.
  virtual void begin_updates() {}
  virtual void end_updates() {}
  // Hyperparameters recorded in the metadata (informational; not checked on load).
  virtual void describe(std::map<std::string, std::string>& metadata) const = 0;

 private:
  struct ParameterState {
    int64_t step = 0;
    std::vector<Tensor> slots;
  };
  void check_group(const ParameterGroup& group) const;
  // The gradient's shape, dtype and device are the parameter's.
  void check_gradient(const nn::Parameter& parameter, const Tensor& grad) const;

  std::string kind_;
  std::vector<ParameterGroup> groups_;
  std::vector<double> last_learning_rates_;
  int64_t step_count_ = 0;
  std::map<const nn::Parameter*, ParameterState> state_;  // keyed by identity, exported by name
};

}  // namespace sparsecap::optim
