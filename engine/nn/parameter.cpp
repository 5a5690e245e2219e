#include "engine/nn/parameter.h"

#include <utility>

#include "engine/error.h"

namespace sparsecap::nn {

bool is_prunable(ParameterKind kind) { return kind == ParameterKind::Weight || kind == ParameterKind::Embedding; }

const char* parameter_kind_name(ParameterKind kind) {
  switch (kind) {
    case ParameterKind::Weight: return "weight";
    case ParameterKind::Bias: return "bias";
    case ParameterKind::Norm: return "norm";
    case ParameterKind::Embedding: return "embedding";
  }
  return "unknown";
}

Parameter::Parameter(std::string local_name, ParameterKind kind, Tensor value)
    : local_name_(std::move(local_name)), name_(local_name_), kind_(kind) {
  SPARSECAP_CHECK(!local_name_.empty(), "a parameter needs a name");
  SPARSECAP_CHECK(value.defined(), "parameter ", local_name_, " has an undefined tensor");
  SPARSECAP_CHECK(is_floating(value.dtype()), "parameter ", local_name_, " must be floating point, got ",
                  dtype_name(value.dtype()));
  value_ = value.detach();
  value_.set_requires_grad(true);
}

void Parameter::set_value(const Tensor& value) {
  SPARSECAP_CHECK(value.defined(), "set_value of parameter ", name_, " with an undefined tensor");
  const bool needs_grad = value_.requires_grad();
  value_ = value.detach();
  value_.set_requires_grad(needs_grad);
}

Tensor Parameter::effective() const {
  if (!transform_) return value_;
  Tensor weight = transform_->apply(value_, training_);
  SPARSECAP_CHECK(weight.defined() && weight.shape() == value_.shape(), "transform '", transform_->description(),
                  "' on ", name_, ": expected ", shape_str(value_.shape()), ", got ",
                  weight.defined() ? shape_str(weight.shape()) : std::string("an undefined tensor"));
  return weight;
}

void Parameter::attach_transform(std::shared_ptr<WeightTransform> transform) {
  SPARSECAP_CHECK(transform != nullptr, "attach_transform on ", name_, " with a null transform");
  SPARSECAP_CHECK(transform_ == nullptr, "parameter ", name_, " already has the transform '",
                  transform_->description(), "'; detach it before attaching '", transform->description(), "'");
  transform_ = std::move(transform);
}

std::shared_ptr<WeightTransform> Parameter::detach_transform() { return std::exchange(transform_, nullptr); }

}  // namespace sparsecap::nn
