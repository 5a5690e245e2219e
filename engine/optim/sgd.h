#pragma once
// SGD with momentum, PyTorch's formulation:
//   g = grad + weight_decay * p
//   buf = g on the first step, else momentum * buf + (1 - dampening) * g
//   p -= lr * (nesterov ? g + momentum * buf : buf)      (p -= lr * g without momentum)
#include <vector>

#include "engine/optim/optimizer.h"

namespace sparsecap::optim {

struct SgdOptions {
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<ParameterGroup> groups, SgdOptions options = {});
  // One group named "default".
  Sgd(std::vector<nn::ParameterPtr> parameters, SchedulePtr schedule, SgdOptions options = {});
  const SgdOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names(const ParameterGroup& group) const override;
  std::vector<std::string> accepted_group_options() const override { return {"weight_decay", "momentum"}; }
  void update(const ParameterGroup& group, nn::Parameter& parameter, const Tensor& grad, std::vector<Tensor>& slots,
              int64_t parameter_step, double lr) override;
  void describe(std::map<std::string, std::string>& metadata) const override;

 private:
  SgdOptions options_;
};

}  // namespace sparsecap::optim
