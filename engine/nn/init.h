#pragma once
// Weight initialisers, PyTorch's formulas, drawing from a sparsecap::Generator so that a seeded
// model initialises identically on every run and device. Each fills `tensor` in place (no
// autograd) and consumes numel draws of the generator.
#include <cstdint>
#include <utility>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace sparsecap::nn::init {

// (fan_in, fan_out) of a weight [out, in, k...]: in * receptive field, out * receptive field.
// Needs at least two dimensions.
std::pair<int64_t, int64_t> fan_in_and_fan_out(const Shape& shape);

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, Sigmoid, Tanh, ReLU, LeakyReLU };

// PyTorch's calculate_gain: 1 (linear, sigmoid), 5/3 (tanh), sqrt(2) (relu),
// sqrt(2 / (1 + slope^2)) (leaky relu).
double gain(Nonlinearity nonlinearity, double negative_slope = 0.01);

void uniform_(Tensor& tensor, double low, double high, Generator& generator);
void normal_(Tensor& tensor, double mean, double std, Generator& generator);
void constant_(Tensor& tensor, double value);

// U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)).
void xavier_uniform_(Tensor& tensor, Generator& generator, double gain = 1.0);
// N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out)).
void xavier_normal_(Tensor& tensor, Generator& generator, double gain = 1.0);
// U(-b, b), b = gain(nonlinearity, a) * sqrt(3 / fan).
void kaiming_uniform_(Tensor& tensor, Generator& generator, double a = 0.0, FanMode mode = FanMode::FanIn,
                      Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);
// N(0, s^2), s = gain(nonlinearity, a) / sqrt(fan).
void kaiming_normal_(Tensor& tensor, Generator& generator, double a = 0.0, FanMode mode = FanMode::FanIn,
                     Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);

// PyTorch's default for Linear and Conv weights (kaiming_uniform with a = sqrt(5)) and their
// biases: both are U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with fan_in taken from the weight shape.
void default_weight_(Tensor& weight, Generator& generator);
void default_bias_(Tensor& bias, const Shape& weight_shape, Generator& generator);

}  // namespace sparsecap::nn::init
