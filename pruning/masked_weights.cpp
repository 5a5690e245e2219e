#include "pruning/masked_weights.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace sparsecap::pruning {

Tensor MaskTransform::apply(const Tensor& weight, bool) { return mul(weight, mask_); }

void MaskedWeights::attach(const std::vector<nn::ParameterPtr>& weights) {
  SPARSECAP_CHECK(weights_.empty(), "masks are already attached");
  SPARSECAP_CHECK(!weights.empty(), "the model has no prunable weights");
  for (const nn::ParameterPtr& weight : weights) {
    SPARSECAP_CHECK(weight->value().dtype() == DType::F32, "masks apply to float32 weights; ", weight->name(), " is ",
                    dtype_name(weight->value().dtype()));
    auto transform =
        std::make_shared<MaskTransform>(full(weight->shape(), 1.0, DType::F32, weight->value().device()));
    weight->attach_transform(transform);
    weights_.push_back(weight);
    transforms_.push_back(std::move(transform));
  }
}

std::vector<Tensor> MaskedWeights::masks() const {
  std::vector<Tensor> out;
  for (const auto& transform : transforms_) out.push_back(transform->mask());
  return out;
}

void MaskedWeights::set_masks(const std::vector<Tensor>& masks) {
  SPARSECAP_CHECK(masks.size() == weights_.size(), "expected ", weights_.size(), " masks, got ", masks.size());
  for (size_t i = 0; i < masks.size(); ++i) {
    check_shape(masks[i], weights_[i]->shape(), "mask of " + weights_[i]->name());
    transforms_[i]->set_mask(masks[i].detach());
  }
  zero_pruned_weights();
}

void MaskedWeights::zero_pruned_weights() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < weights_.size(); ++i)
    weights_[i]->value().copy_(mul(weights_[i]->value(), transforms_[i]->mask()));
}

void MaskedWeights::finalize() {
  zero_pruned_weights();
  for (const nn::ParameterPtr& weight : weights_) weight->detach_transform();
  weights_.clear();
  transforms_.clear();
}

SparsityReport MaskedWeights::report() const {
  NoGradGuard no_grad;
  SparsityReport report;
  for (size_t i = 0; i < weights_.size(); ++i) {
    const Tensor& mask = transforms_[i]->mask();
    report.add(LayerSparsity{weights_[i]->name(), weights_[i]->shape(), std::llround(sum(mask).item()), mask.numel()});
  }
  return report;
}

std::vector<std::pair<std::string, Tensor>> MaskedWeights::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t i = 0; i < weights_.size(); ++i) out.emplace_back(weights_[i]->name() + ".mask", transforms_[i]->mask());
  return out;
}

void MaskedWeights::load_state(const std::map<std::string, Tensor>& tensors) {
  std::vector<Tensor> masks;
  std::string missing;
  for (const nn::ParameterPtr& weight : weights_) {
    const auto found = tensors.find(weight->name() + ".mask");
    if (found == tensors.end())
      missing += (missing.empty() ? "" : ", ") + weight->name() + ".mask";
    else
      masks.push_back(found->second.to(weight->value().device()));
  }
  if (masks.empty()) return;  // saved before any mask existed
  SPARSECAP_CHECK(missing.empty(), "checkpoint has masks for some weights but not ", missing);
  set_masks(masks);
}

}  // namespace sparsecap::pruning
