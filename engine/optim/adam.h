#pragma once
// Adam and AdamW (Kingma & Ba; Loshchilov & Hutter) with PyTorch's placement of eps:
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// Adam adds weight_decay * p to g (L2); AdamW decays p by lr * weight_decay * p before the update.
// The arithmetic is the shared kernel behind Backend::adam_step (CPU loop and CUDA kernel alike).
// The captioning papers use eps = 1e-2 for LSTM decoders and (0.9, 0.98), eps 1e-9 for the
// Transformer.
#include <vector>

#include "engine/backend.h"
#include "engine/optim/optimizer.h"

namespace sparsecap::optim {

struct AdamOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParameterGroup> groups, AdamOptions options = {});
  // One group named "default".
  Adam(std::vector<nn::ParameterPtr> parameters, SchedulePtr schedule, AdamOptions options = {});
  const AdamOptions& options() const { return options_; }
  bool decoupled_weight_decay() const { return decoupled_; }

 protected:
  Adam(const char* kind, bool decoupled, std::vector<ParameterGroup> groups, AdamOptions options);
  std::vector<std::string> slot_names(const ParameterGroup&) const override { return {"exp_avg", "exp_avg_sq"}; }
  std::vector<std::string> accepted_group_options() const override {
    return {"weight_decay", "eps", "beta1", "beta2"};
  }
  void update(const ParameterGroup& group, nn::Parameter& parameter, const Tensor& grad, std::vector<Tensor>& slots,
              int64_t parameter_step, double lr) override;
  void describe(std::map<std::string, std::string>& metadata) const override;
  void begin_updates() override { queued_.clear(); }
  // Applies the queued updates, each device's in one Backend::adam_step_many call.
  void end_updates() override;

 private:
  bool decoupled_;
  AdamOptions options_;
  std::vector<AdamUpdate> queued_;  // this step's updates, in parameter order
};

// Adam with decoupled weight decay. PyTorch's AdamW defaults weight_decay to 0.01; here the
// options say it explicitly.
class AdamW : public Adam {
 public:
  AdamW(std::vector<ParameterGroup> groups, AdamOptions options);
  AdamW(std::vector<nn::ParameterPtr> parameters, SchedulePtr schedule, AdamOptions options);
};

}  // namespace sparsecap::optim
