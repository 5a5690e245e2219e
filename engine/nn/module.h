#pragma once
// Module: a node of the model tree. It owns named Parameters (trainable, shared objects), named
// buffers (state that is saved but not trained, e.g. batch-norm running statistics) and named
// child modules. Full names are dotted paths from the root ("encoder.0.weight"); they key
// state dicts, optimizer state and pruning reports.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/parameter.h"
#include "engine/tensor.h"

namespace sparsecap::nn {

// Name -> tensor, as saved in a checkpoint (sorted, as safetensors stores them).
using StateDict = std::map<std::string, Tensor>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Modules are identities (parameters point back at their owner's name): no copies.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter of the tree once, in registration order (depth first); a parameter shared by
  // two modules (tied weights) appears under the name of the module that registered it first.
  std::vector<ParameterPtr> parameters() const;
  std::vector<std::pair<std::string, ParameterPtr>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }

  // Mode for dropout, batch norm and weight transforms; applies to the whole subtree.
  void train(bool training = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void zero_grad();

  // Parameters and buffers by full name, as detached copies: a snapshot that later training does
  // not change.
  StateDict state_dict() const;
  // Copies every entry into the matching parameter or buffer (in place, keeping identities;
  // dtypes are converted). Checks everything before copying anything: a missing key, an
  // unexpected key or a shape mismatch throws one Error listing every problem, e.g.
  // "expected [32, 512], got [32, 256] in decoder.att.w_q".
  void load_state_dict(const StateDict& state);

  // Moves (or converts) every parameter and buffer; gradients are dropped. Do this before
  // creating an optimizer: optimizer state lives on the parameters' device.
  void to(Device device);
  void to(DType dtype);
  // Where the parameters live (after to()); the CPU for a module without parameters.
  Device device() const;

  // The dotted prefix of this module's entries ("decoder.att." or "" at the root).
  const std::string& prefix() const { return prefix_; }

 protected:
  ParameterPtr register_parameter(const std::string& name, ParameterPtr parameter);
  ParameterPtr register_parameter(const std::string& name, ParameterKind kind, const Tensor& value);
  // The returned slot is the buffer itself: the module reads and updates it through the pointer,
  // and load_state_dict/to() write through it too.
  std::shared_ptr<Tensor> register_buffer(const std::string& name, const Tensor& value);
  template <typename ModuleType>
  std::shared_ptr<ModuleType> register_module(const std::string& name, std::shared_ptr<ModuleType> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;
  void set_prefix(const std::string& prefix);
  template <typename Visit>
  void visit_tree(Visit&& visit) const;

  std::string prefix_;
  bool training_ = true;
  std::vector<std::pair<std::string, ParameterPtr>> parameters_;
  std::vector<std::pair<std::string, std::shared_ptr<Tensor>>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// The parameters of `module` whose kind is prunable (weights and embeddings), in module order.
std::vector<ParameterPtr> prunable_parameters(const Module& module);

// A module with one tensor in and one out, the kind Sequential chains.
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& input) = 0;
  Tensor operator()(const Tensor& input) { return forward(input); }
};

}  // namespace sparsecap::nn
