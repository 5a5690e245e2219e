#include "engine/optim/optimizer.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <utility>

#include "engine/autograd.h"
#include "engine/error.h"

namespace sparsecap::optim {

namespace {
const char* const kKindKey = "optimizer.kind";
const char* const kStepCountKey = "optimizer.step_count";

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::ostringstream out;
  for (size_t i = 0; i < parts.size(); ++i) out << (i ? separator : "") << parts[i];
  return out.str();
}
}  // namespace

Optimizer::Optimizer(std::string kind) : kind_(std::move(kind)) {}

void Optimizer::check_group(const ParameterGroup& group) const {
  SPARSECAP_CHECK(!group.name.empty(), kind_, ": a parameter group needs a name");
  for (const auto& existing : groups_)
    SPARSECAP_CHECK(existing.name != group.name, kind_, ": two parameter groups named '", group.name, "'");
  SPARSECAP_CHECK(group.schedule != nullptr, kind_, ": group '", group.name, "' has no learning-rate schedule");
  const std::vector<std::string> accepted = accepted_group_options();
  auto check_option = [&](const std::optional<double>& value, const char* option) {
    SPARSECAP_CHECK(!value || std::find(accepted.begin(), accepted.end(), option) != accepted.end(), kind_,
                    ": group '", group.name, "' sets ", option, ", which ", kind_, " does not use (it takes ",
                    join(accepted, ", "), ")");
  };
  check_option(group.weight_decay, "weight_decay");
  check_option(group.eps, "eps");
  check_option(group.beta1, "beta1");
  check_option(group.beta2, "beta2");
  check_option(group.momentum, "momentum");

  std::set<std::string> names;
  std::set<const nn::Parameter*> members;
  for (const auto& existing : groups_)
    for (const auto& parameter : existing.parameters) {
      names.insert(parameter->name());
      members.insert(parameter.get());
    }
  for (const auto& parameter : group.parameters) {
    SPARSECAP_CHECK(parameter != nullptr, kind_, ": group '", group.name, "' holds a null parameter");
    SPARSECAP_CHECK(members.insert(parameter.get()).second, kind_, ": parameter ", parameter->name(),
                    " is in two groups (or twice in group '", group.name, "')");
    // State is exported by name, so names must tell parameters apart.
    SPARSECAP_CHECK(names.insert(parameter->name()).second, kind_, ": two parameters named ", parameter->name(),
                    " (group '", group.name, "'); names key the optimizer state");
  }
}

void Optimizer::add_parameter_group(ParameterGroup group) {
  check_group(group);
  last_learning_rates_.push_back(group.schedule->lr_at(std::max<int64_t>(step_count_, 1)));
  groups_.push_back(std::move(group));
}

double Optimizer::learning_rate(size_t group_index) const {
  SPARSECAP_CHECK(group_index < groups_.size(), kind_, ": group index ", group_index, " out of range (",
                  groups_.size(), " groups)");
  return last_learning_rates_[group_index];
}

std::vector<nn::ParameterPtr> Optimizer::parameters() const {
  std::vector<nn::ParameterPtr> out;
  for (const auto& group : groups_) out.insert(out.end(), group.parameters.begin(), group.parameters.end());
  return out;
}

void Optimizer::zero_grad() {
  for (const auto& group : groups_)
    for (const auto& parameter : group.parameters) parameter->zero_grad();
}

void Optimizer::step() {
  NoGradGuard no_grad;
  // Every gradient is checked before anything changes, so a step that throws leaves the weights,
  // the state and the step count as they were.
  for (const ParameterGroup& group : groups_)
    for (const auto& parameter : group.parameters) {
      if (!parameter->requires_grad()) continue;
      const Tensor grad = parameter->grad();
      if (grad.defined()) check_gradient(*parameter, grad);
    }
  ++step_count_;
  begin_updates();
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParameterGroup& group = groups_[g];
    const double lr = group.schedule->lr_at(step_count_);
    last_learning_rates_[g] = lr;
    const size_t slot_count = slot_names(group).size();
    for (const auto& parameter : group.parameters) {
      if (!parameter->requires_grad()) continue;
      const Tensor grad = parameter->grad();
      if (!grad.defined()) continue;
      ParameterState& state = state_[parameter.get()];
      if (state.slots.size() != slot_count) {
        state.slots.clear();
        for (size_t i = 0; i < slot_count; ++i)
          state.slots.push_back(zeros(parameter->shape(), parameter->value().dtype(), parameter->value().device()));
      }
      ++state.step;
      update(group, *parameter, grad, state.slots, state.step, lr);
    }
  }
  end_updates();
}

void Optimizer::check_gradient(const nn::Parameter& parameter, const Tensor& grad) const {
  check_shape(grad, parameter.shape(), "gradient of " + parameter.name());
  const Tensor& weight = parameter.value();
  SPARSECAP_CHECK(grad.device() == weight.device() && grad.dtype() == weight.dtype(), kind_, ": gradient of ",
                  parameter.name(), " is ", dtype_name(grad.dtype()), " on ", grad.device().str(), ", the parameter ",
                  dtype_name(weight.dtype()), " on ", weight.device().str());
}

OptimizerState Optimizer::state_tensors() const {
  NoGradGuard no_grad;
  OptimizerState out;
  out.metadata[kKindKey] = kind_;
  out.metadata[kStepCountKey] = std::to_string(step_count_);
  std::vector<std::string> group_names;
  for (const auto& group : groups_) {
    group_names.push_back(group.name);
    out.metadata["optimizer.group." + group.name + ".schedule"] = group.schedule->description();
    out.metadata["optimizer.group." + group.name + ".parameters"] = std::to_string(group.parameters.size());
  }
  out.metadata["optimizer.groups"] = join(group_names, ",");
  describe(out.metadata);
  for (const auto& group : groups_) {
    const std::vector<std::string> names = slot_names(group);
    for (const auto& parameter : group.parameters) {
      const auto found = state_.find(parameter.get());
      if (found == state_.end()) continue;
      const ParameterState& state = found->second;
      out.tensors[parameter->name() + ".step"] = from_vector<int64_t>({state.step}, {1});
      for (size_t i = 0; i < names.size() && i < state.slots.size(); ++i)
        out.tensors[parameter->name() + "." + names[i]] = state.slots[i].detach().clone();
    }
  }
  return out;
}

void Optimizer::load_state_tensors(const OptimizerState& state) {
  std::vector<std::string> problems;
  const auto kind = state.metadata.find(kKindKey);
  if (kind == state.metadata.end())
    problems.push_back(std::string("metadata has no ") + kKindKey);
  else if (kind->second != kind_)
    problems.push_back("state is from optimizer '" + kind->second + "', this one is '" + kind_ + "'");
  int64_t step_count = 0;
  const auto count = state.metadata.find(kStepCountKey);
  if (count == state.metadata.end()) {
    problems.push_back(std::string("metadata has no ") + kStepCountKey);
  } else {
    try {
      size_t used = 0;
      step_count = std::stoll(count->second, &used);
      if (used != count->second.size() || step_count < 0) throw std::invalid_argument("not a count");
    } catch (const std::exception&) {
      problems.push_back(std::string(kStepCountKey) + " is '" + count->second + "', not a step count");
    }
  }

  std::set<std::string> expected_keys;
  std::map<const nn::Parameter*, ParameterState> loaded;
  for (const auto& group : groups_) {
    const std::vector<std::string> names = slot_names(group);
    for (const auto& parameter : group.parameters) {
      const std::string step_key = parameter->name() + ".step";
      expected_keys.insert(step_key);
      std::vector<std::string> present, absent;
      (state.tensors.contains(step_key) ? present : absent).push_back(step_key);
      for (const auto& name : names) {
        const std::string key = parameter->name() + "." + name;
        expected_keys.insert(key);
        (state.tensors.contains(key) ? present : absent).push_back(key);
      }
      if (present.empty()) continue;  // never updated: starts fresh
      if (!absent.empty()) {
        problems.push_back("incomplete state for " + parameter->name() + ": missing " + join(absent, ", "));
        continue;
      }
      ParameterState entry;
      const Tensor& step = state.tensors.at(step_key);
      if (!step.defined() || step.numel() != 1) {
        problems.push_back("expected one step count in " + step_key + ", got " +
                           (step.defined() ? shape_str(step.shape()) : std::string("an undefined tensor")));
        continue;
      }
      entry.step = static_cast<int64_t>(step.item());
      bool shapes_match = true;
      for (const auto& name : names) {
        const std::string key = parameter->name() + "." + name;
        const Tensor& slot = state.tensors.at(key);
        if (!slot.defined() || slot.shape() != parameter->shape()) {
          problems.push_back("expected " + shape_str(parameter->shape()) + ", got " +
                             (slot.defined() ? shape_str(slot.shape()) : std::string("an undefined tensor")) + " in " +
                             key);
          shapes_match = false;
        }
      }
      if (!shapes_match) continue;
      NoGradGuard no_grad;
      for (const auto& name : names) {
        // A private copy on the parameter's device and dtype: later updates never write into the
        // caller's tensors.
        Tensor slot = state.tensors.at(parameter->name() + "." + name).detach();
        slot = slot.to(parameter->value().device()).to(parameter->value().dtype());
        entry.slots.push_back(slot.clone());
      }
      loaded[parameter.get()] = std::move(entry);
    }
  }
  std::vector<std::string> unexpected;
  for (const auto& [key, tensor] : state.tensors)
    if (!expected_keys.contains(key)) unexpected.push_back(key);
  if (!unexpected.empty()) problems.push_back("unexpected keys " + join(unexpected, ", "));
  if (!problems.empty()) throw Error(kind_ + " load_state_tensors: " + join(problems, "; "));

  state_ = std::move(loaded);
  step_count_ = step_count;
  for (size_t g = 0; g < groups_.size(); ++g)
    last_learning_rates_[g] = groups_[g].schedule->lr_at(std::max<int64_t>(step_count_, 1));
}

}  // namespace sparsecap::optim
