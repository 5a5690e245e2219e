#pragma once
// Inference ops on CSR weights, and WeightHandle: the weight a layer computes with, either a dense
// tensor (training and dense inference, through the autograd ops unchanged) or a CSR matrix (a
// model loaded from a sparse export). Layers take handles so one code path serves both.
#include <memory>

#include "engine/sparse/csr_matrix.h"
#include "engine/tensor.h"

namespace sparsecap::sparse {

// x [.., weight.cols] -> [.., weight.rows] = x · weightᵀ + bias (bias [rows] or undefined), through
// Backend::csr_linear on the weight's device. Inference only: throws when x requires a gradient
// and gradient mode is on, since no gradient would reach the weight or x.
Tensor sparse_linear(const Tensor& x, const CsrMatrix& weight, const Tensor& bias = Tensor());

// Rows of a CSR table [V, D] by I64 indices of any shape -> [.., D] float32 (an embedding lookup).
// CPU tables only. Throws naming the first index outside [0, V).
Tensor sparse_embedding(const CsrMatrix& table, const Tensor& index);

class WeightHandle {
 public:
  WeightHandle() = default;
  // Implicit: layers built with dense weights pass tensors as before.
  WeightHandle(Tensor dense) : dense_(std::move(dense)) {}  // NOLINT(google-explicit-constructor)
  explicit WeightHandle(std::shared_ptr<const CsrMatrix> csr) : csr_(std::move(csr)) {}

  bool is_sparse() const { return csr_ != nullptr; }
  bool defined() const { return is_sparse() || dense_.defined(); }
  Device device() const { return is_sparse() ? csr_->device() : dense_.device(); }
  const Tensor& dense() const;     // throws for a sparse handle
  const CsrMatrix& csr() const;    // throws for a dense handle

 private:
  Tensor dense_;
  std::shared_ptr<const CsrMatrix> csr_;
};

// linear() for either kind of weight.
Tensor linear(const Tensor& x, const WeightHandle& weight, const Tensor& bias = Tensor());
// embedding() for either kind of table; `index` may be on the host (index_select checks it there),
// the rows come out on the table's device.
Tensor embedding(const WeightHandle& table, const Tensor& index);

}  // namespace sparsecap::sparse
