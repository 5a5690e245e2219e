#include "engine/backend.h"

#include <array>
#include <atomic>
#include <cmath>

#include "engine/cpu/cpu_backend.h"

namespace sparsecap {

namespace {
thread_local bool indices_checked_on_host = false;

// What replace_backend_for installed: slot 0 the CPU, slot 1 + i cuda:i. Read on every
// backend_for, so an atomic load rather than a lock.
std::array<std::atomic<Backend*>, 1 + kReplaceableCudaDevices> replacements{};

std::atomic<Backend*>* replacement_slot(Device device) {
  const int slot = device.is_cpu() ? 0 : 1 + device.index;
  return slot >= 0 && slot < static_cast<int>(replacements.size()) ? &replacements[static_cast<size_t>(slot)] : nullptr;
}
}  // namespace

IndicesCheckedOnHost::IndicesCheckedOnHost() : previous_(indices_checked_on_host) { indices_checked_on_host = true; }
IndicesCheckedOnHost::~IndicesCheckedOnHost() { indices_checked_on_host = previous_; }
bool IndicesCheckedOnHost::active() { return indices_checked_on_host; }

kernels::AdamCoefficients adam_coefficients(const AdamStep& step) {
  const double t = static_cast<double>(step.step);
  return kernels::AdamCoefficients{static_cast<float>(step.lr),
                                   static_cast<float>(step.beta1),
                                   static_cast<float>(step.beta2),
                                   static_cast<float>(1.0 - step.beta1),
                                   static_cast<float>(1.0 - step.beta2),
                                   static_cast<float>(step.eps),
                                   static_cast<float>(step.weight_decay),
                                   step.decoupled_weight_decay,
                                   static_cast<float>(1.0 - std::pow(step.beta1, t)),
                                   static_cast<float>(1.0 - std::pow(step.beta2, t))};
}

void Backend::unary_in_place_many(kernels::UnaryOp op, const std::vector<Tensor>& tensors,
                                  kernels::ScalarParams params) {
  for (Tensor tensor : tensors) unary(op, tensor, tensor, params);
}

void Backend::adam_step_many(const std::vector<AdamUpdate>& updates) {
  for (AdamUpdate u : updates) adam_step(u.param, u.grad, u.m, u.v, u.step);
}

void Backend::gated_weight(const Tensor&, const Tensor&, Tensor&, const kernels::GateDraw&) {
  throw Error(detail::concat("gated_weight is not implemented on ", device().str()));
}

void Backend::gated_weight_backward(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&,
                                    const kernels::GateDraw&) {
  throw Error(detail::concat("gated_weight_backward is not implemented on ", device().str()));
}

void Backend::lstm_cell(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&, int64_t, int64_t) {
  throw Error("lstm_cell is not implemented on " + device().str());
}

void Backend::lstm_cell_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&,
                                 int64_t, int64_t) {
  throw Error("lstm_cell_backward is not implemented on " + device().str());
}

void Backend::gru_cell(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&, int64_t, int64_t) {
  throw Error("gru_cell is not implemented on " + device().str());
}

void Backend::gru_cell_backward(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&, Tensor&, int64_t,
                                int64_t) {
  throw Error("gru_cell_backward is not implemented on " + device().str());
}

void Backend::additive_attention(const Tensor& keys, const Tensor& query, const Tensor& weight, const Tensor& bias,
                                 Tensor& scores, int64_t rows, int64_t positions, int64_t width) {
  Tensor energies = Tensor::empty({rows, positions, width}, keys.dtype(), keys.device());
  binary(kernels::BinaryOp::Add, keys, query.reshape({rows, 1, width}), energies, {});
  unary(kernels::UnaryOp::Tanh, energies, energies, {});
  GemmShape shape;  // [rows * positions, width] x [width, 1]
  shape.m = rows * positions;
  shape.k = width;
  shape.n = 1;
  gemm(shape, energies, weight, scores);
  if (bias.defined()) binary(kernels::BinaryOp::Add, scores, bias, scores, {});
}

void Backend::additive_attention_backward(const Tensor& keys, const Tensor& query, const Tensor& weight,
                                          const Tensor& grad_scores, Tensor& grad_keys, bool add_to_grad_keys,
                                          Tensor& grad_query, Tensor& grad_weight, int64_t rows, int64_t positions,
                                          int64_t width) {
  Tensor energies = Tensor::empty({rows, positions, width}, keys.dtype(), keys.device());
  binary(kernels::BinaryOp::Add, keys, query.reshape({rows, 1, width}), energies, {});
  unary(kernels::UnaryOp::Tanh, energies, energies, {});
  Tensor grad_energies = add_to_grad_keys ? Tensor::empty(keys.shape(), keys.dtype(), keys.device()) : grad_keys;
  GemmShape outer;  // grad_scores [rows * positions, 1] x weight [1, width], then through the tanh
  outer.m = rows * positions;
  outer.k = 1;
  outer.n = width;
  gemm(outer, grad_scores, weight, grad_energies);
  binary(kernels::BinaryOp::TanhGrad, grad_energies, energies, grad_energies, {});
  Tensor no_argmax;
  reduce(ReduceOp::Sum, grad_energies, grad_query, no_argmax, rows, positions, width);
  if (add_to_grad_keys) binary(kernels::BinaryOp::Add, grad_keys, grad_energies, grad_keys, {});
  GemmShape weight_shape;  // grad_scores^T [1, rows * positions] x tanh [rows * positions, width]
  weight_shape.trans_a = true;
  weight_shape.m = 1;
  weight_shape.k = rows * positions;
  weight_shape.n = width;
  gemm(weight_shape, grad_scores, energies, grad_weight);
}

void Backend::csr_linear(const sparse::CsrMatrix&, const Tensor&, const Tensor&, Tensor&, int64_t) {
  throw Error("csr_linear is not implemented on " + device().str());
}

Backend& backend_for(Device device) {
  if (const std::atomic<Backend*>* slot = replacement_slot(device))
    if (Backend* replacement = slot->load(std::memory_order_acquire)) return *replacement;
  if (device.is_cpu()) return cpu::cpu_backend();
  return cuda_device_backend(device.index);
}

Backend* replace_backend_for(Device device, Backend* replacement) {
  std::atomic<Backend*>* slot = replacement_slot(device);
  SPARSECAP_CHECK(slot != nullptr, "cannot replace the backend of ", device.str(), ": only cuda:0 to cuda:",
                  kReplaceableCudaDevices - 1, " can be replaced");
  return slot->exchange(replacement, std::memory_order_acq_rel);
}

}  // namespace sparsecap
