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

std::vector<nn::ParameterPtr> without_encoder(std::vector<nn::ParameterPtr> parameters,
                                              const models::Captioner& model) {
  const std::shared_ptr<nn::Module> encoder = encoder_of(model);
  if (encoder == nullptr) return parameters;
  const std::vector<nn::ParameterPtr> inside = encoder->parameters();
  std::erase_if(parameters, [&](const nn::ParameterPtr& parameter) {
    return std::find(inside.begin(), inside.end(), parameter) != inside.end();
  });
  return parameters;
}

std::vector<nn::ParameterPtr> pruned_parameters(const models::Captioner& model, const RunConfig& config) {
  if (!config.optim.freeze_encoder) return model.prunable_parameters();
  return without_encoder(model.prunable_parameters(), model);
}

}  // namespace sparsecap::train
