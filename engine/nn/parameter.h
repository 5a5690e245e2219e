#pragma once
// Parameter: a trainable tensor with a stable dotted name and a kind, shared (std::shared_ptr) by
// the module that owns it, the optimizers that update it and the pruning method that gates it.
//
// Layers never read the raw weight: they ask for `effective()`. That is W itself unless a pruning
// method attached a WeightTransform (a gate W ⊙ Bern(σ(G)), a mask W ⊙ M, ...), which then
// produces the weight the layer uses, differentiably, so gradients reach both W and whatever the
// transform owns. Attaching and detaching happens on the Parameter; layers never notice.
#include <memory>
#include <string>

#include "engine/tensor.h"

namespace sparsecap::nn {

// What a parameter is for. Pruning prunes weights and embeddings and skips biases and
// normalisation parameters; reports group by kind.
enum class ParameterKind { Weight, Bias, Norm, Embedding };

const char* parameter_kind_name(ParameterKind kind);  // "weight", "bias", "norm", "embedding"

// Weights and embeddings: what the papers prune and count in sparsity (never biases or norms).
bool is_prunable(ParameterKind kind);

// Turns a stored weight into the weight a layer computes with. Implementations (pruning/) must be
// differentiable with respect to `weight` through engine ops (or a recorded fused op) so that the
// gradient of W flows. `training` is the owning module's mode: a gate samples while training and
// rounds at evaluation.
class WeightTransform {
 public:
  virtual ~WeightTransform() = default;
  virtual Tensor apply(const Tensor& weight, bool training) = 0;
  // Short description for logs and errors ("supermask gate", "magnitude mask").
  virtual std::string description() const = 0;
};

class Parameter {
 public:
  // `value` becomes a leaf that requires a gradient (it is detached from any history first).
  // A parameter made outside a module (a pruning method's gate logits) may be given a full
  // dotted name here ("decoder.att.w_q.gate"); registering it in a module renames it.
  Parameter(std::string local_name, ParameterKind kind, Tensor value);

  // The full dotted name ("decoder.att.w_q") once the owning module sits in a tree; the local
  // name ("w_q") before that.
  const std::string& name() const { return name_; }
  const std::string& local_name() const { return local_name_; }
  ParameterKind kind() const { return kind_; }

  // The stored tensor W (a leaf). Optimizers update it in place; its identity is stable.
  const Tensor& value() const { return value_; }
  Tensor& value() { return value_; }
  const Shape& shape() const { return value_.shape(); }
  int64_t numel() const { return value_.numel(); }

  // Replace the stored tensor (device or dtype moves); it becomes a leaf with this parameter's
  // requires_grad setting. The gradient is dropped.
  void set_value(const Tensor& value);

  Tensor grad() const { return value_.grad(); }
  void zero_grad() { value_.zero_grad(); }
  bool requires_grad() const { return value_.requires_grad(); }
  void set_requires_grad(bool value) { value_.set_requires_grad(value); }  // freeze / unfreeze

  // The weight to compute with: W, or the attached transform applied to W.
  Tensor effective() const;

  // At most one transform: two pruning methods on one weight would silently compose, so a second
  // attach throws; detach first to replace.
  void attach_transform(std::shared_ptr<WeightTransform> transform);
  std::shared_ptr<WeightTransform> detach_transform();  // returns the detached one (or null)
  const std::shared_ptr<WeightTransform>& transform() const { return transform_; }
  bool has_transform() const { return transform_ != nullptr; }

  // Mode seen by the transform; set by Module::train()/eval() on the owning module.
  bool training() const { return training_; }
  void set_training(bool training) { training_ = training; }

 private:
  friend class Module;  // assigns the dotted name when the owning module joins a tree

  std::string local_name_;
  std::string name_;
  ParameterKind kind_;
  Tensor value_;
  std::shared_ptr<WeightTransform> transform_;
  bool training_ = true;
  // Identity of the module that registered this parameter first: only it renames the parameter,
  // so a tied weight keeps its owner's name. Compared, never dereferenced.
  const void* owner_ = nullptr;
};

using ParameterPtr = std::shared_ptr<Parameter>;

}  // namespace sparsecap::nn
