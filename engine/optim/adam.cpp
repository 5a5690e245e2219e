#include "engine/optim/adam.h"

#include <utility>

#include "engine/backend.h"
#include "engine/error.h"

namespace sparsecap::optim {

namespace {
void check_adam_values(const char* kind, const std::string& where, double beta1, double beta2, double eps,
                       double weight_decay) {
  SPARSECAP_CHECK(beta1 >= 0.0 && beta1 < 1.0 && beta2 >= 0.0 && beta2 < 1.0 && eps > 0.0 && weight_decay >= 0.0,
                  kind, where, ": betas (", beta1, ", ", beta2, "), eps ", eps, ", weight decay ", weight_decay,
                  " (need betas in [0, 1), eps > 0, weight decay >= 0)");
}
}  // namespace

Adam::Adam(const char* kind, bool decoupled, std::vector<ParameterGroup> groups, AdamOptions options)
    : Optimizer(kind), decoupled_(decoupled), options_(options) {
  check_adam_values(kind, "", options.beta1, options.beta2, options.eps, options.weight_decay);
  for (auto& group : groups) {
    check_adam_values(kind, " group '" + group.name + "'", group.beta1.value_or(options.beta1),
                      group.beta2.value_or(options.beta2), group.eps.value_or(options.eps),
                      group.weight_decay.value_or(options.weight_decay));
    add_parameter_group(std::move(group));
  }
}

Adam::Adam(std::vector<ParameterGroup> groups, AdamOptions options) : Adam("adam", false, std::move(groups), options) {}

Adam::Adam(std::vector<nn::ParameterPtr> parameters, SchedulePtr schedule, AdamOptions options)
    : Adam(std::vector<ParameterGroup>{ParameterGroup{.parameters = std::move(parameters), .schedule = std::move(schedule)}},
           options) {}

AdamW::AdamW(std::vector<ParameterGroup> groups, AdamOptions options) : Adam("adamw", true, std::move(groups), options) {}

AdamW::AdamW(std::vector<nn::ParameterPtr> parameters, SchedulePtr schedule, AdamOptions options)
    : AdamW(std::vector<ParameterGroup>{ParameterGroup{.parameters = std::move(parameters), .schedule = std::move(schedule)}},
            options) {}

void Adam::update(const ParameterGroup& group, nn::Parameter& parameter, const Tensor& grad, std::vector<Tensor>& slots,
                  int64_t parameter_step, double lr) {
  AdamStep step;
  step.lr = lr;
  step.beta1 = group.beta1.value_or(options_.beta1);
  step.beta2 = group.beta2.value_or(options_.beta2);
  step.eps = group.eps.value_or(options_.eps);
  step.weight_decay = group.weight_decay.value_or(options_.weight_decay);
  step.decoupled_weight_decay = decoupled_;
  step.step = parameter_step;
  Tensor& weight = parameter.value();  // its gradient's dtype and device checked by Optimizer::step
  queued_.push_back(AdamUpdate{weight, grad, slots.at(0), slots.at(1), step});
}

void Adam::end_updates() {
  std::vector<AdamUpdate> updates = std::move(queued_);
  queued_.clear();
  while (!updates.empty()) {
    const Device device = updates.front().param.device();
    std::vector<AdamUpdate> here, elsewhere;
    for (AdamUpdate& u : updates) (u.param.device() == device ? here : elsewhere).push_back(std::move(u));
    backend_for(device).adam_step_many(here);
    updates = std::move(elsewhere);
  }
}

void Adam::describe(std::map<std::string, std::string>& metadata) const {
  metadata["optimizer.beta1"] = detail::concat(options_.beta1);
  metadata["optimizer.beta2"] = detail::concat(options_.beta2);
  metadata["optimizer.eps"] = detail::concat(options_.eps);
  metadata["optimizer.weight_decay"] = detail::concat(options_.weight_decay);
}

}  // namespace sparsecap::optim
