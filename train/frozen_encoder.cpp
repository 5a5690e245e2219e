#include "train/frozen_encoder.h"

#include <algorithm>

#include "engine/error.h"

namespace sparsecap::train {

std::shared_ptr<nn::Module> encoder_of(const models::Captioner& model) {
  for (const auto& [name, child] : model.named_children())
    if (name == "encoder") return child;
  return nullptr;
}

void freeze_encoder(models::Captioner& model) {
  const std::shared_ptr<nn::Module> encoder = encoder_of(model);
  SPARSECAP_CHECK(encoder != nullptr, "optim.freeze_encoder is set, but the ", model.type(),
                  " captioner has no encoder module");
  for (const nn::ParameterPtr& parameter : encoder->parameters()) parameter->set_requires_grad(false);
}

std::vector<nn::ParameterPtr> pruned_parameters(const models::Captioner& model, const RunConfig& config) {
  std::vector<nn::ParameterPtr> weights = model.prunable_parameters();
  const std::shared_ptr<nn::Module> encoder = encoder_of(model);
  if (!config.optim.freeze_encoder || encoder == nullptr) return weights;
  const std::vector<nn::ParameterPtr> frozen = encoder->parameters();
  std::erase_if(weights, [&](const nn::ParameterPtr& weight) {
    return std::find(frozen.begin(), frozen.end(), weight) != frozen.end();
  });
  return weights;
}

}  // namespace sparsecap::train
