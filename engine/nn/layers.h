#pragma once
// The basic layers. Each computes with `parameter->effective()`, never the raw tensor, so a
// pruning method can gate or mask any of them without the layer knowing. Initialisation follows
// PyTorch's defaults and draws from the Generator passed at construction.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/rng.h"

namespace sparsecap::nn {

struct LinearOptions {
  bool bias = true;
  DType dtype = DType::F32;
};

// y = x W^T + b; weight [out, in] (kind weight), bias [out] (kind bias). Init: U(±1/sqrt(in)).
class Linear : public UnaryModule {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& generator, LinearOptions options = {});
  Tensor forward(const Tensor& input) override;
  const ParameterPtr& weight() const { return weight_; }
  const ParameterPtr& bias() const { return bias_; }  // null without a bias
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

 private:
  int64_t in_features_, out_features_;
  ParameterPtr weight_, bias_;
};

struct EmbeddingOptions {
  DType dtype = DType::F32;
};

// Row lookup in a table [num_embeddings, dim] (kind embedding) by I64 indices of any shape.
// Init: N(0, 1), as PyTorch.
class Embedding : public UnaryModule {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& generator, EmbeddingOptions options = {});
  Tensor forward(const Tensor& indices) override;
  const ParameterPtr& weight() const { return weight_; }

 private:
  ParameterPtr weight_;
};

struct LayerNormOptions {
  double eps = 1e-5;
  DType dtype = DType::F32;
};

// Normalises the last dimension; weight (gamma, ones) and bias (beta, zeros), both kind norm.
class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(int64_t normalized_size, LayerNormOptions options = {});
  Tensor forward(const Tensor& input) override;
  const ParameterPtr& weight() const { return weight_; }
  const ParameterPtr& bias() const { return bias_; }

 private:
  double eps_;
  ParameterPtr weight_, bias_;
};

struct BatchNorm2dOptions {
  double eps = 1e-5;
  double momentum = 0.1;  // running = (1 - momentum) * running + momentum * batch statistic
  DType dtype = DType::F32;
};

// Per-channel normalisation of NCHW input: batch statistics while training (updating the running
// statistics), running statistics at evaluation. weight/bias are parameters (kind norm);
// running_mean (zeros) and running_var (ones) are buffers: saved, never trained.
class BatchNorm2d : public UnaryModule {
 public:
  explicit BatchNorm2d(int64_t channels, BatchNorm2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  const ParameterPtr& weight() const { return weight_; }
  const ParameterPtr& bias() const { return bias_; }
  const Tensor& running_mean() const { return *running_mean_; }
  const Tensor& running_var() const { return *running_var_; }

 private:
  BatchNorm2dOptions options_;
  ParameterPtr weight_, bias_;
  std::shared_ptr<Tensor> running_mean_, running_var_;
};

struct Conv2dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t groups = 1;  // groups == in_channels == out_channels: depthwise
  bool bias = true;
  DType dtype = DType::F32;
};

// weight [out, in / groups, k, k] (kind weight), bias [out]. Init: U(±1/sqrt(fan_in)).
class Conv2d : public UnaryModule {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& generator,
         Conv2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  const ParameterPtr& weight() const { return weight_; }
  const ParameterPtr& bias() const { return bias_; }

 private:
  Conv2dOptions options_;
  ParameterPtr weight_, bias_;
};

// Zeroes each element with probability p while training (scaling the rest by 1 / (1 - p));
// the identity at evaluation. Draws from a generator the caller owns: by reference (it must
// outlive the module) or shared.
class Dropout : public UnaryModule {
 public:
  Dropout(double p, Generator& generator);
  Dropout(double p, std::shared_ptr<Generator> generator);
  Tensor forward(const Tensor& input) override;
  double p() const { return p_; }

 private:
  double p_;
  std::shared_ptr<Generator> generator_;
};

// A parameter-free function as a module (ReLU, tanh, reshape), so Sequential can hold it.
class Function : public UnaryModule {
 public:
  Function(std::string description, std::function<Tensor(const Tensor&)> function);
  Tensor forward(const Tensor& input) override { return function_(input); }
  const std::string& description() const { return description_; }

 private:
  std::string description_;
  std::function<Tensor(const Tensor&)> function_;
};

std::shared_ptr<Function> relu_module();
std::shared_ptr<Function> tanh_module();

// Runs its children in order; they are named "0", "1", ... ("encoder.0.weight").
class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<UnaryModule>> layers);
  Sequential& append(std::shared_ptr<UnaryModule> layer);
  Tensor forward(const Tensor& input) override;
  size_t size() const { return layers_.size(); }
  const std::shared_ptr<UnaryModule>& operator[](size_t index) const;

 private:
  std::vector<std::shared_ptr<UnaryModule>> layers_;
};

}  // namespace sparsecap::nn
