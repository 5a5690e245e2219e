#include "pruning/supermask.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/autograd.h"
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "pruning/gated_weight_op.h"
#include "pruning/method_registry.h"

namespace sparsecap::pruning {

// W' for one gated Parameter. In per-step mode the draw of step t is (seed, stream, t·span) and
// W' is computed once per step and reused by every use of the weight in that step (an LSTM's
// time steps); in per-call mode every use draws afresh from a running counter.
class GatedWeightTransform : public nn::WeightTransform {
 public:
  GatedWeightTransform(nn::ParameterPtr gate, uint64_t seed, uint64_t stream, bool resample_per_call)
      : gate_(std::move(gate)), seed_(seed), stream_(stream), resample_per_call_(resample_per_call) {}

  std::string description() const override { return "supermask gate"; }

  Tensor apply(const Tensor& weight, bool training) override {
    if (frozen_mask_.defined()) return mul(weight, frozen_mask_);
    const uint64_t span = gate_draw_span(weight.numel());
    if (!training) return gated_weight(weight, gate_->value(), kernels::GateDraw{seed_, stream_, 0, false});
    if (resample_per_call_)
      return gated_weight(weight, gate_->value(), kernels::GateDraw{seed_, stream_, span * calls_++, true});
    if (!cached_.defined())
      cached_ = gated_weight(weight, gate_->value(),
                             kernels::GateDraw{seed_, stream_, span * static_cast<uint64_t>(step_), true});
    return cached_;
  }

  void start_step(int64_t step) {
    step_ = step;
    cached_ = Tensor();
  }
  void freeze(Tensor mask) {
    frozen_mask_ = std::move(mask);
    cached_ = Tensor();
  }
  uint64_t calls() const { return calls_; }
  void set_calls(uint64_t calls) { calls_ = calls; }

 private:
  nn::ParameterPtr gate_;
  uint64_t seed_, stream_;
  bool resample_per_call_;
  int64_t step_ = 0;
  uint64_t calls_ = 0;
  Tensor cached_;
  Tensor frozen_mask_;
};

void to_json(nlohmann::json& json, const SupermaskOptions& options) {
  json = {{"target_sparsity", options.target_sparsity},
          {"sparsity_weight", options.sparsity_weight ? nlohmann::json(*options.sparsity_weight) : nlohmann::json()},
          {"gate_init", options.gate_init},
          {"gate_learning_rate", options.gate_learning_rate},
          {"gate_eps", options.gate_eps},
          {"resample_per_call", options.resample_per_call},
          {"tolerance", options.tolerance}};
}

void from_json(const nlohmann::json& json, SupermaskOptions& options) {
  const std::string section = "pruning";
  check_known_keys(json,
                   {"target_sparsity", "sparsity_weight", "gate_init", "gate_learning_rate", "gate_eps",
                    "resample_per_call", "tolerance"},
                   section);
  read_field(json, "target_sparsity", options.target_sparsity, section);
  if (json.contains("sparsity_weight")) {
    if (json.at("sparsity_weight").is_null()) {
      options.sparsity_weight.reset();
    } else {
      double weight = 0;
      read_field(json, "sparsity_weight", weight, section);
      options.sparsity_weight = weight;
    }
  }
  read_field(json, "gate_init", options.gate_init, section);
  read_field(json, "gate_learning_rate", options.gate_learning_rate, section);
  read_field(json, "gate_eps", options.gate_eps, section);
  read_field(json, "resample_per_call", options.resample_per_call, section);
  read_field(json, "tolerance", options.tolerance, section);
  SPARSECAP_CHECK(options.target_sparsity >= 0 && options.target_sparsity < 1, "pruning.target_sparsity ",
                  options.target_sparsity, " outside [0, 1)");
  SPARSECAP_CHECK(!options.sparsity_weight || *options.sparsity_weight >= 0, "pruning.sparsity_weight ",
                  options.sparsity_weight.value_or(0), " is negative");
  SPARSECAP_CHECK(options.gate_learning_rate > 0 && options.gate_eps > 0,
                  "pruning.gate_learning_rate and pruning.gate_eps must be positive, got ", options.gate_learning_rate,
                  " and ", options.gate_eps);
  SPARSECAP_CHECK(options.tolerance >= 0, "pruning.tolerance ", options.tolerance, " is negative");
}

PruningMethodRegistration supermask_registration() {
  return PruningMethodRegistration{
      .resolve =
          [](const nlohmann::json& section) {
            SupermaskOptions options;
            from_json(section, options);
            return nlohmann::json(options);
          },
      .make =
          [](const nlohmann::json& section, const PruningRunInfo& run) {
            SupermaskOptions options;
            from_json(section, options);
            options.total_steps = run.total_steps;
            options.seed = run.seed;
            return std::unique_ptr<PruningMethod>(std::make_unique<SupermaskPruning>(options));
          }};
}

SupermaskPruning::SupermaskPruning(SupermaskOptions options) : options_(std::move(options)) {
  SPARSECAP_CHECK(options_.target_sparsity >= 0.0 && options_.target_sparsity < 1.0, "supermask: target sparsity ",
                  options_.target_sparsity, " outside [0, 1)");
  SPARSECAP_CHECK(options_.total_steps > 0, "supermask: total_steps (the annealing length T) must be positive, got ",
                  options_.total_steps);
}

SupermaskPruning::~SupermaskPruning() = default;

double SupermaskPruning::sparsity_weight() const {
  return options_.sparsity_weight.value_or(default_sparsity_weight(options_.target_sparsity));
}

void SupermaskPruning::begin(const std::vector<nn::ParameterPtr>& weights, optim::Optimizer& optimizer) {
  attach(weights);
  // The reference: Adam, constant learning rate 100, eps 1e-2, no weight decay; betas inherited.
  optimizer.add_parameter_group(optim::ParameterGroup{.name = "gates",
                                                      .parameters = gates_,
                                                      .schedule = optim::constant_schedule(options_.gate_learning_rate),
                                                      .weight_decay = 0.0,
                                                      .eps = options_.gate_eps});
}

void SupermaskPruning::attach(const std::vector<nn::ParameterPtr>& weights) {
  SPARSECAP_CHECK(weights_.empty(), "supermask: gates are already attached");
  for (const nn::ParameterPtr& parameter : weights) {
    const std::string& name = parameter->name();
    SPARSECAP_CHECK(parameter->value().dtype() == DType::F32, "supermask gates float32 weights; ", name, " is ",
                    dtype_name(parameter->value().dtype()));
    auto gate = std::make_shared<nn::Parameter>(
        name + ".gate", nn::ParameterKind::Weight,
        full(parameter->shape(), options_.gate_init, DType::F32, parameter->value().device()));
    auto transform = std::make_shared<GatedWeightTransform>(gate, options_.seed, static_cast<uint64_t>(gates_.size()),
                                                            options_.resample_per_call);
    parameter->attach_transform(transform);
    weights_.push_back(parameter);
    gates_.push_back(gate);
    transforms_.push_back(transform);
  }
  SPARSECAP_CHECK(!gates_.empty(), "supermask: the model has no prunable weights");
  gates_changed_since_last_call();  // remember the initial (all kept) masks
}

bool SupermaskPruning::target_reached() const {
  return std::abs(gate_sparsity().sparsity() - options_.target_sparsity) <= options_.tolerance;
}

void SupermaskPruning::before_step(int64_t step) {
  current_step_ = step;
  for (const auto& transform : transforms_) transform->start_step(step);
}

Tensor SupermaskPruning::extra_loss(int64_t step) {
  if (frozen_) return Tensor();
  std::vector<Tensor> values;
  for (const auto& gate : gates_) values.push_back(gate->value());
  const Tensor loss = sparsity_loss(values, options_.target_sparsity);
  last_sparsity_loss_ = loss.detach();  // read when statistics are logged
  return mul_scalar(loss, sparsity_weight() * annealing_rate(step, options_.total_steps));
}

void SupermaskPruning::finalize() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < weights_.size(); ++i) {
    const Tensor mask = greater_than(gates_[i]->value(), 0.0);
    weights_[i]->value().copy_(mul(weights_[i]->value(), mask));
    weights_[i]->detach_transform();
  }
  weights_.clear();
  gates_.clear();
  transforms_.clear();
  previous_masks_.clear();
}

void SupermaskPruning::freeze() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < gates_.size(); ++i) {
    transforms_[i]->freeze(greater_than(gates_[i]->value(), 0.0));
    gates_[i]->set_requires_grad(false);
    gates_[i]->zero_grad();
  }
  frozen_ = true;
}

std::vector<std::pair<std::string, Tensor>> SupermaskPruning::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& gate : gates_) out.emplace_back(gate->name(), gate->value().detach());
  return out;
}

std::map<std::string, std::string> SupermaskPruning::state_metadata() const {
  std::ostringstream calls;
  for (size_t i = 0; i < transforms_.size(); ++i) calls << (i ? "," : "") << transforms_[i]->calls();
  return {{"supermask.frozen", frozen_ ? "1" : "0"}, {"supermask.calls", calls.str()}};
}

void SupermaskPruning::load_state(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  for (const auto& gate : gates_) {
    const auto found = tensors.find(gate->name());
    SPARSECAP_CHECK(found != tensors.end(), "supermask: checkpoint has no gate ", gate->name());
    check_shape(found->second, gate->shape(), "supermask gate " + gate->name());
    gate->value().copy_(found->second);
  }
  const auto calls = metadata.find("supermask.calls");
  if (calls != metadata.end() && !calls->second.empty()) {
    std::istringstream in(calls->second);
    std::string field;
    for (size_t i = 0; std::getline(in, field, ','); ++i) {
      SPARSECAP_CHECK(i < transforms_.size(), "supermask: checkpoint has draw counters for more gates than the model");
      transforms_[i]->set_calls(std::stoull(field));
    }
  }
  const auto frozen = metadata.find("supermask.frozen");
  if (frozen != metadata.end() && frozen->second == "1" && !frozen_) freeze();
}

SparsityReport SupermaskPruning::gate_sparsity() const {
  NoGradGuard no_grad;
  SparsityReport report;
  for (size_t i = 0; i < gates_.size(); ++i) {
    const GateCount count = count_kept_gates({gates_[i]->value()});
    report.add(LayerSparsity{weights_[i]->name(), weights_[i]->shape(), count.kept, count.total});
  }
  return report;
}

double SupermaskPruning::mean_gate_logit() const {
  NoGradGuard no_grad;
  double total = 0;
  int64_t count = 0;
  for (const auto& gate : gates_) {
    total += sum(gate->value()).item();
    count += gate->numel();
  }
  return count ? total / static_cast<double>(count) : 0.0;
}

int64_t SupermaskPruning::gates_changed_since_last_call() {
  NoGradGuard no_grad;
  int64_t changed = 0;
  std::vector<Tensor> masks;
  for (size_t i = 0; i < gates_.size(); ++i) {
    masks.push_back(greater_than(gates_[i]->value(), 0.0));
    if (i < previous_masks_.size())
      changed += std::llround(sum(abs(sub(masks.back(), previous_masks_[i]))).item());
  }
  previous_masks_ = std::move(masks);
  return changed;
}

std::vector<int64_t> SupermaskPruning::gate_histogram(int bins, double low, double high) const {
  SPARSECAP_CHECK(bins > 0 && high > low, "gate histogram needs bins > 0 and high > low, got ", bins, " bins over [",
                  low, ", ", high, "]");
  std::vector<int64_t> counts(static_cast<size_t>(bins), 0);
  const double width = (high - low) / bins;
  for (const auto& gate : gates_)
    for (float v : gate->value().to_vector<float>()) {
      const int bin = static_cast<int>(std::floor((v - low) / width));
      ++counts[static_cast<size_t>(std::clamp(bin, 0, bins - 1))];
    }
  return counts;
}

std::vector<std::pair<std::string, Tensor>> SupermaskPruning::histogram_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t i = 0; i < gates_.size(); ++i) out.emplace_back("gate_logits/" + weights_[i]->name(), gates_[i]->value());
  return out;
}

nlohmann::json SupermaskPruning::statistics_record(int64_t step, double caption_loss) const {
  const SparsityReport report = gate_sparsity();
  const double alpha = annealing_rate(step, options_.total_steps);
  const double sparsity_loss_value = last_sparsity_loss_.defined() ? last_sparsity_loss_.item() : 0.0;
  nlohmann::json per_mask = nlohmann::json::object(), per_mask_gating = nlohmann::json::object();
  for (const LayerSparsity& layer : report.layers) per_mask[layer.name] = layer.sparsity();
  {
    NoGradGuard no_grad;
    for (size_t i = 0; i < gates_.size(); ++i)
      per_mask_gating[weights_[i]->name()] = mean(gates_[i]->value()).item();
  }
  return {{"step", step},
          {"caption_loss", caption_loss},
          {"sparsity_loss", sparsity_loss_value},
          {"annealing_rate", alpha},
          {"sparsity_weight", sparsity_weight()},
          {"scaled_sparsity_loss", sparsity_weight() * alpha * sparsity_loss_value},
          {"sparsity", report.sparsity()},
          {"nnz", report.kept},
          {"gating_average", mean_gate_logit()},
          {"per_mask_sparsity", per_mask},
          {"per_mask_gating_average", per_mask_gating}};
}

}  // namespace sparsecap::pruning
