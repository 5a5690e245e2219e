#include "engine/nn/init.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace sparsecap::nn::init {

std::pair<int64_t, int64_t> fan_in_and_fan_out(const Shape& shape) {
  SPARSECAP_CHECK(shape.size() >= 2, "fan in and fan out need a weight with at least 2 dimensions, got ",
                  shape_str(shape));
  int64_t receptive_field = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive_field *= shape[i];
  return {shape[1] * receptive_field, shape[0] * receptive_field};
}

double gain(Nonlinearity nonlinearity, double negative_slope) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Sigmoid: return 1.0;
    case Nonlinearity::Tanh: return 5.0 / 3.0;
    case Nonlinearity::ReLU: return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU: return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
  }
  return 1.0;
}

namespace {
int64_t chosen_fan(const Tensor& tensor, FanMode mode) {
  const auto [fan_in, fan_out] = fan_in_and_fan_out(tensor.shape());
  const int64_t fan = mode == FanMode::FanIn ? fan_in : fan_out;
  SPARSECAP_CHECK(fan > 0, "initialiser on ", shape_str(tensor.shape()), ": fan is zero");
  return fan;
}
}  // namespace

void uniform_(Tensor& tensor, double low, double high, Generator& generator) {
  SPARSECAP_CHECK(low <= high, "uniform_ with low ", low, " above high ", high);
  NoGradGuard no_grad;
  tensor.copy_(affine(rand(tensor.shape(), generator, tensor.dtype(), tensor.device()), high - low, low));
}

void normal_(Tensor& tensor, double mean, double std, Generator& generator) {
  SPARSECAP_CHECK(std >= 0.0, "normal_ with negative standard deviation ", std);
  NoGradGuard no_grad;
  tensor.copy_(affine(randn(tensor.shape(), generator, tensor.dtype(), tensor.device()), std, mean));
}

void constant_(Tensor& tensor, double value) { tensor.fill_(value); }

void xavier_uniform_(Tensor& tensor, Generator& generator, double gain_value) {
  const auto [fan_in, fan_out] = fan_in_and_fan_out(tensor.shape());
  const double bound = gain_value * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  uniform_(tensor, -bound, bound, generator);
}

void xavier_normal_(Tensor& tensor, Generator& generator, double gain_value) {
  const auto [fan_in, fan_out] = fan_in_and_fan_out(tensor.shape());
  normal_(tensor, 0.0, gain_value * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), generator);
}

void kaiming_uniform_(Tensor& tensor, Generator& generator, double a, FanMode mode, Nonlinearity nonlinearity) {
  const double bound = gain(nonlinearity, a) * std::sqrt(3.0 / static_cast<double>(chosen_fan(tensor, mode)));
  uniform_(tensor, -bound, bound, generator);
}

void kaiming_normal_(Tensor& tensor, Generator& generator, double a, FanMode mode, Nonlinearity nonlinearity) {
  normal_(tensor, 0.0, gain(nonlinearity, a) / std::sqrt(static_cast<double>(chosen_fan(tensor, mode))), generator);
}

void default_weight_(Tensor& weight, Generator& generator) {
  // kaiming_uniform(a = sqrt(5)): gain sqrt(2 / 6) * sqrt(3 / fan_in) = 1 / sqrt(fan_in).
  kaiming_uniform_(weight, generator, std::sqrt(5.0));
}

void default_bias_(Tensor& bias, const Shape& weight_shape, Generator& generator) {
  const int64_t fan_in = fan_in_and_fan_out(weight_shape).first;
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  uniform_(bias, -bound, bound, generator);
}

}  // namespace sparsecap::nn::init
