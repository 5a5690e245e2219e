#include "models/captioner.h"

#include "engine/error.h"

namespace sparsecap::models {

int64_t CaptionerInputs::batch_size() const {
  for (const Tensor* field : {&images, &encoder_features, &region_features, &fc_features})
    if (field->defined()) return field->size(0);
  throw Error("captioner inputs hold neither images nor region features");
}

std::vector<nn::ParameterPtr> Captioner::prunable_parameters() const { return nn::prunable_parameters(*this); }

std::vector<std::string> Captioner::csr_weight_names() const {
  std::vector<std::string> names;
  for (const nn::ParameterPtr& parameter : prunable_parameters())
    if (parameter->value().dim() >= 2) names.push_back(parameter->name());
  return names;
}

}  // namespace sparsecap::models
