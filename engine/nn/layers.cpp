#include "engine/nn/layers.h"

#include <utility>

#include "engine/error.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace sparsecap::nn {

Linear::Linear(int64_t in_features, int64_t out_features, Generator& generator, LinearOptions options)
    : in_features_(in_features), out_features_(out_features) {
  SPARSECAP_CHECK(in_features > 0 && out_features > 0, "Linear(", in_features, ", ", out_features,
                  "): sizes must be positive");
  Tensor weight = Tensor::empty({out_features, in_features}, options.dtype);
  init::default_weight_(weight, generator);
  weight_ = register_parameter("weight", ParameterKind::Weight, weight);
  if (options.bias) {
    Tensor bias = Tensor::empty({out_features}, options.dtype);
    init::default_bias_(bias, weight.shape(), generator);
    bias_ = register_parameter("bias", ParameterKind::Bias, bias);
  }
}

Tensor Linear::forward(const Tensor& input) {
  SPARSECAP_CHECK(input.dim() >= 1 && input.size(-1) == in_features_, "Linear ", weight_->name(), ": expected input [.., ",
                  in_features_, "], got ", shape_str(input.shape()));
  return linear(input, weight_->effective(), bias_ ? bias_->effective() : Tensor());
}

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& generator, EmbeddingOptions options) {
  SPARSECAP_CHECK(num_embeddings > 0 && embedding_dim > 0, "Embedding(", num_embeddings, ", ", embedding_dim,
                  "): sizes must be positive");
  Tensor table = Tensor::empty({num_embeddings, embedding_dim}, options.dtype);
  init::normal_(table, 0.0, 1.0, generator);
  weight_ = register_parameter("weight", ParameterKind::Embedding, table);
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight_->effective(), indices); }

LayerNorm::LayerNorm(int64_t normalized_size, LayerNormOptions options) : eps_(options.eps) {
  SPARSECAP_CHECK(normalized_size > 0, "LayerNorm(", normalized_size, "): size must be positive");
  weight_ = register_parameter("weight", ParameterKind::Norm, ones({normalized_size}, options.dtype));
  bias_ = register_parameter("bias", ParameterKind::Norm, zeros({normalized_size}, options.dtype));
}

Tensor LayerNorm::forward(const Tensor& input) {
  return layer_norm(input, weight_->effective(), bias_->effective(), eps_);
}

BatchNorm2d::BatchNorm2d(int64_t channels, BatchNorm2dOptions options) : options_(options) {
  SPARSECAP_CHECK(channels > 0, "BatchNorm2d(", channels, "): channels must be positive");
  SPARSECAP_CHECK(options.momentum >= 0.0 && options.momentum <= 1.0, "BatchNorm2d momentum ", options.momentum,
                  " outside [0, 1]");
  weight_ = register_parameter("weight", ParameterKind::Norm, ones({channels}, options.dtype));
  bias_ = register_parameter("bias", ParameterKind::Norm, zeros({channels}, options.dtype));
  running_mean_ = register_buffer("running_mean", zeros({channels}, options.dtype));
  running_var_ = register_buffer("running_var", ones({channels}, options.dtype));
}

Tensor BatchNorm2d::forward(const Tensor& input) {
  return batch_norm(input, weight_->effective(), bias_->effective(), *running_mean_, *running_var_, is_training(),
                    options_.momentum, options_.eps);
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& generator,
               Conv2dOptions options)
    : options_(options) {
  SPARSECAP_CHECK(in_channels > 0 && out_channels > 0 && kernel_size > 0, "Conv2d(", in_channels, ", ", out_channels,
                  ", ", kernel_size, "): sizes must be positive");
  SPARSECAP_CHECK(options.groups > 0 && in_channels % options.groups == 0 && out_channels % options.groups == 0,
                  "Conv2d: groups ", options.groups, " must divide in_channels ", in_channels, " and out_channels ",
                  out_channels);
  SPARSECAP_CHECK(options.stride > 0 && options.padding >= 0, "Conv2d: stride ", options.stride, ", padding ",
                  options.padding, " invalid");
  Tensor weight = Tensor::empty({out_channels, in_channels / options.groups, kernel_size, kernel_size}, options.dtype);
  init::default_weight_(weight, generator);
  weight_ = register_parameter("weight", ParameterKind::Weight, weight);
  if (options.bias) {
    Tensor bias = Tensor::empty({out_channels}, options.dtype);
    init::default_bias_(bias, weight.shape(), generator);
    bias_ = register_parameter("bias", ParameterKind::Bias, bias);
  }
}

Tensor Conv2d::forward(const Tensor& input) {
  return conv2d(input, weight_->effective(), bias_ ? bias_->effective() : Tensor(), options_.stride, options_.padding,
                options_.groups);
}

namespace {
void check_probability(double p) {
  SPARSECAP_CHECK(p >= 0.0 && p < 1.0, "Dropout probability ", p, " outside [0, 1)");
}
}  // namespace

// A non-owning shared pointer (aliasing constructor with an empty owner): the caller keeps the
// generator alive, as the reference constructor documents.
Dropout::Dropout(double p, Generator& generator) : p_(p), generator_(std::shared_ptr<Generator>(), &generator) {
  check_probability(p);
}

Dropout::Dropout(double p, std::shared_ptr<Generator> generator) : p_(p), generator_(std::move(generator)) {
  check_probability(p);
  SPARSECAP_CHECK(generator_ != nullptr, "Dropout needs a generator, got null");
}

Tensor Dropout::forward(const Tensor& input) { return dropout(input, p_, is_training(), *generator_); }

Function::Function(std::string description, std::function<Tensor(const Tensor&)> function)
    : description_(std::move(description)), function_(std::move(function)) {
  SPARSECAP_CHECK(function_ != nullptr, "Function module '", description_, "' without a function");
}

std::shared_ptr<Function> relu_module() {
  return std::make_shared<Function>("relu", [](const Tensor& x) { return relu(x); });
}
std::shared_ptr<Function> tanh_module() {
  return std::make_shared<Function>("tanh", [](const Tensor& x) { return tanh(x); });
}

Sequential::Sequential(std::vector<std::shared_ptr<UnaryModule>> layers) {
  for (auto& layer : layers) append(std::move(layer));
}

Sequential& Sequential::append(std::shared_ptr<UnaryModule> layer) {
  SPARSECAP_CHECK(layer != nullptr, "Sequential::append of a null layer at position ", layers_.size());
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
  return *this;
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (auto& layer : layers_) x = layer->forward(x);
  return x;
}

const std::shared_ptr<UnaryModule>& Sequential::operator[](size_t index) const {
  SPARSECAP_CHECK(index < layers_.size(), "Sequential index ", index, " out of range (size ", layers_.size(), ")");
  return layers_[index];
}

}  // namespace sparsecap::nn
