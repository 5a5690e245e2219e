#include "engine/optim/sgd.h"

#include <utility>

#include "engine/error.h"
#include "engine/ops.h"

namespace sparsecap::optim {

namespace {
void check_options(const SgdOptions& options) {
  SPARSECAP_CHECK(options.momentum >= 0.0 && options.dampening >= 0.0 && options.dampening <= 1.0 &&
                      options.weight_decay >= 0.0,
                  "sgd: momentum ", options.momentum, ", dampening ", options.dampening, ", weight decay ",
                  options.weight_decay, " (need momentum >= 0, dampening in [0, 1], weight decay >= 0)");
  SPARSECAP_CHECK(!options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0),
                  "sgd: nesterov needs momentum > 0 and zero dampening, got momentum ", options.momentum,
                  ", dampening ", options.dampening);
}
}  // namespace

Sgd::Sgd(std::vector<ParameterGroup> groups, SgdOptions options) : Optimizer("sgd"), options_(options) {
  check_options(options_);
  for (auto& group : groups) add_parameter_group(std::move(group));
}

Sgd::Sgd(std::vector<nn::ParameterPtr> parameters, SchedulePtr schedule, SgdOptions options)
    : Sgd(std::vector<ParameterGroup>{ParameterGroup{.parameters = std::move(parameters), .schedule = std::move(schedule)}},
          options) {}

std::vector<std::string> Sgd::slot_names(const ParameterGroup& group) const {
  if (group.momentum.value_or(options_.momentum) == 0.0) return {};
  return {"momentum_buffer"};
}

void Sgd::update(const ParameterGroup& group, nn::Parameter& parameter, const Tensor& grad, std::vector<Tensor>& slots,
                 int64_t parameter_step, double lr) {
  const double momentum = group.momentum.value_or(options_.momentum);
  const double weight_decay = group.weight_decay.value_or(options_.weight_decay);
  const Tensor weight = parameter.value().detach();
  Tensor direction = weight_decay != 0.0 ? add(grad, mul_scalar(weight, weight_decay)) : grad;
  if (momentum != 0.0) {
    Tensor& buffer = slots.at(0);
    if (parameter_step == 1)
      buffer.copy_(direction);
    else
      buffer.copy_(add(mul_scalar(buffer, momentum), mul_scalar(direction, 1.0 - options_.dampening)));
    direction = options_.nesterov ? add(direction, mul_scalar(buffer, momentum)) : buffer;
  }
  parameter.value().copy_(sub(weight, mul_scalar(direction, lr)));
}

void Sgd::describe(std::map<std::string, std::string>& metadata) const {
  metadata["optimizer.momentum"] = detail::concat(options_.momentum);
  metadata["optimizer.dampening"] = detail::concat(options_.dampening);
  metadata["optimizer.weight_decay"] = detail::concat(options_.weight_decay);
  metadata["optimizer.nesterov"] = options_.nesterov ? "true" : "false";
}

}  // namespace sparsecap::optim
