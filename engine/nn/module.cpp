#include "engine/nn/module.h"

#include <set>
#include <sstream>

#include "engine/autograd.h"
#include "engine/error.h"

namespace sparsecap::nn {

// Depth-first walk over the tree: visit(path_prefix, module) for each module once.
template <typename Visit>
void Module::visit_tree(Visit&& visit) const {
  std::set<const Module*> seen;
  std::vector<std::pair<std::string, const Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [path, module] = stack.back();
    stack.pop_back();
    if (!seen.insert(module).second) continue;
    visit(path, *module);
    // Reverse push so children are visited in registration order.
    for (auto child = module->children_.rbegin(); child != module->children_.rend(); ++child)
      stack.emplace_back(path + child->first + ".", child->second.get());
  }
}

std::vector<std::pair<std::string, ParameterPtr>> Module::named_parameters() const {
  // A shared (tied) parameter is listed once, at its owner's path when the owner is in this
  // tree, so the key always equals Parameter::name() relative to this module.
  std::set<const void*> modules_in_tree;
  visit_tree([&](const std::string&, const Module& module) { modules_in_tree.insert(&module); });
  std::vector<std::pair<std::string, ParameterPtr>> out;
  std::set<const Parameter*> seen;
  visit_tree([&](const std::string& path, const Module& module) {
    for (const auto& [name, parameter] : module.parameters_) {
      if (parameter->owner_ != &module && modules_in_tree.contains(parameter->owner_)) continue;
      if (seen.insert(parameter.get()).second) out.emplace_back(path + name, parameter);
    }
  });
  return out;
}

std::vector<ParameterPtr> Module::parameters() const {
  std::vector<ParameterPtr> out;
  for (auto& [name, parameter] : named_parameters()) out.push_back(parameter);
  return out;
}

std::vector<ParameterPtr> prunable_parameters(const Module& module) {
  std::vector<ParameterPtr> out;
  for (const ParameterPtr& parameter : module.parameters())
    if (is_prunable(parameter->kind())) out.push_back(parameter);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::set<const Tensor*> seen;
  visit_tree([&](const std::string& path, const Module& module) {
    for (const auto& [name, buffer] : module.buffers_)
      if (seen.insert(buffer.get()).second) out.emplace_back(path + name, *buffer);
  });
  return out;
}

void Module::train(bool training) {
  visit_tree([training](const std::string&, const Module& module) {
    // The walk hands out const modules; the mode is this tree's own mutable state.
    auto& mutable_module = const_cast<Module&>(module);
    mutable_module.training_ = training;
    for (auto& [name, parameter] : mutable_module.parameters_) parameter->set_training(training);
  });
}

void Module::zero_grad() {
  for (auto& parameter : parameters()) parameter->zero_grad();
}

StateDict Module::state_dict() const {
  NoGradGuard no_grad;
  StateDict state;
  for (const auto& [name, parameter] : named_parameters()) state[name] = parameter->value().detach().clone();
  for (const auto& [name, buffer] : named_buffers()) state[name] = buffer.detach().clone();
  return state;
}

void Module::load_state_dict(const StateDict& state) {
  StateDict targets;  // handles sharing storage with the parameters and buffers
  for (const auto& [name, parameter] : named_parameters()) targets[name] = parameter->value();
  for (const auto& [name, buffer] : named_buffers()) targets[name] = buffer;

  std::vector<std::string> problems;
  for (const auto& [name, target] : targets) {
    const auto found = state.find(name);
    if (found == state.end()) {
      problems.push_back(detail::concat("missing key ", name, " (expected ", shape_str(target.shape()), ")"));
    } else if (!found->second.defined()) {
      problems.push_back(detail::concat("undefined tensor for ", name));
    } else if (found->second.shape() != target.shape()) {
      problems.push_back(detail::concat("expected ", shape_str(target.shape()), ", got ",
                                        shape_str(found->second.shape()), " in ", name));
    }
  }
  for (const auto& [name, tensor] : state)
    if (!targets.contains(name))
      problems.push_back(detail::concat("unexpected key ", name, tensor.defined() ? " " : "",
                                        tensor.defined() ? shape_str(tensor.shape()) : std::string()));
  if (!problems.empty()) {
    std::ostringstream message;
    message << "load_state_dict: ";
    for (size_t i = 0; i < problems.size(); ++i) message << (i ? "; " : "") << problems[i];
    throw Error(message.str());
  }
  NoGradGuard no_grad;
  for (auto& [name, target] : targets) target.copy_(state.at(name));
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  for (auto& parameter : parameters()) {
    if (parameter->value().device() != device) parameter->set_value(parameter->value().detach().to(device));
  }
  visit_tree([device](const std::string&, const Module& module) {
    for (auto& [name, buffer] : module.buffers_)
      if (buffer->device() != device) *buffer = buffer->to(device);
  });
}

Device Module::device() const {
  const std::vector<ParameterPtr> all = parameters();
  return all.empty() ? Device::cpu() : all.front()->value().device();
}

void Module::to(DType dtype) {
  SPARSECAP_CHECK(is_floating(dtype), "Module::to(", dtype_name(dtype), "): parameters must stay floating point");
  NoGradGuard no_grad;
  for (auto& parameter : parameters()) {
    if (parameter->value().dtype() != dtype) parameter->set_value(parameter->value().detach().to(dtype));
  }
  visit_tree([dtype](const std::string&, const Module& module) {
    for (auto& [name, buffer] : module.buffers_)
      if (buffer->dtype() != dtype && is_floating(buffer->dtype())) *buffer = buffer->to(dtype);
  });
}

void Module::check_new_name(const std::string& name) const {
  SPARSECAP_CHECK(!name.empty(), "empty name registered in module '", prefix_, "'");
  SPARSECAP_CHECK(name.find('.') == std::string::npos, "name '", name, "' in module '", prefix_,
                  "' contains a '.'; dots separate module names");
  auto taken = [&name](const auto& entries) {
    for (const auto& entry : entries)
      if (entry.first == name) return true;
    return false;
  };
  SPARSECAP_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), "name '", prefix_ + name,
                  "' is registered twice");
}

ParameterPtr Module::register_parameter(const std::string& name, ParameterPtr parameter) {
  SPARSECAP_CHECK(parameter != nullptr, "register_parameter '", prefix_ + name, "' with a null parameter");
  check_new_name(name);
  if (parameter->owner_ == nullptr) {
    parameter->owner_ = this;
    parameter->local_name_ = name;
    parameter->name_ = prefix_ + name;
    parameter->set_training(training_);
  }
  parameters_.emplace_back(name, parameter);
  return parameter;
}

ParameterPtr Module::register_parameter(const std::string& name, ParameterKind kind, const Tensor& value) {
  return register_parameter(name, std::make_shared<Parameter>(name, kind, value));
}

std::shared_ptr<Tensor> Module::register_buffer(const std::string& name, const Tensor& value) {
  check_new_name(name);
  SPARSECAP_CHECK(value.defined(), "buffer ", prefix_ + name, " is undefined");
  auto slot = std::make_shared<Tensor>(value.detach());
  buffers_.emplace_back(name, slot);
  return slot;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  SPARSECAP_CHECK(module != nullptr, "register_module '", prefix_ + name, "' with a null module");
  SPARSECAP_CHECK(module.get() != this, "module '", prefix_ + name, "' registered inside itself");
  check_new_name(name);
  children_.emplace_back(name, module);
  module->set_prefix(prefix_ + name + ".");
}

void Module::set_prefix(const std::string& prefix) {
  prefix_ = prefix;
  for (auto& [name, parameter] : parameters_)
    if (parameter->owner_ == this) parameter->name_ = prefix + name;
  for (auto& [name, child] : children_) child->set_prefix(prefix + name + ".");
}

}  // namespace sparsecap::nn
