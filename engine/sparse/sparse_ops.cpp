#include "engine/sparse/sparse_ops.h"

#include <cstring>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace sparsecap::sparse {

Tensor sparse_linear(const Tensor& x, const CsrMatrix& weight, const Tensor& bias) {
  SPARSECAP_CHECK(!(grad_mode_enabled() && x.requires_grad()),
                  "sparse_linear is inference only: the input requires a gradient (run under NoGradGuard)");
  SPARSECAP_CHECK(x.dim() >= 1 && x.size(-1) == weight.cols, "sparse_linear: expected input [.., ", weight.cols,
                  "] for a ", weight.rows, " x ", weight.cols, " CSR weight, got ", shape_str(x.shape()));
  SPARSECAP_CHECK(x.dtype() == DType::F32, "sparse_linear: input must be float32, got ", dtype_name(x.dtype()));
  SPARSECAP_CHECK(x.device() == weight.device(), "sparse_linear: input on ", x.device().str(), ", weight on ",
                  weight.device().str());
  if (bias.defined()) check_shape(bias, {weight.rows}, "sparse_linear bias");
  Shape out_shape = x.shape();
  out_shape.back() = weight.rows;
  const int64_t batch = x.numel() / weight.cols;
  Tensor out = Tensor::empty(out_shape, DType::F32, x.device());
  if (out.numel() == 0) return out;
  const Tensor contiguous_bias = bias.defined() ? bias.detach() : Tensor();
  backend_for(x.device()).csr_linear(weight, x.detach(), contiguous_bias, out, batch);
  return out;
}

namespace {

// A CSR table on a GPU expanded to its dense matrix there, once per table.
struct DenseTableOnDevice : DerivedLayout {
  Tensor table;
};

}  // namespace

Tensor sparse_embedding(const CsrMatrix& table, const Tensor& index) {
  SPARSECAP_CHECK(index.dtype() == DType::I64, "sparse_embedding: indices must be int64, got ",
                  dtype_name(index.dtype()));
  if (!table.device().is_cpu()) {
    // A lookup reads a few whole rows per step. On a GPU they come from the table expanded once
    // to dense on the device: the gather is one kernel, at the cost of the dense table's memory.
    const auto dense = table.derived_layout<DenseTableOnDevice>([](const CsrMatrix& matrix) {
      auto layout = std::make_shared<DenseTableOnDevice>();
      layout->table = csr_to_dense(matrix).to(matrix.device());
      return layout;
    });
    return sparsecap::embedding(dense->table, index);
  }
  const std::vector<int64_t> rows = index.to_vector<int64_t>();
  Shape out_shape = index.shape();
  out_shape.push_back(table.cols);
  Tensor out = zeros(out_shape);
  float* destination = out.data<float>();
  const int32_t* row_ptr = table.row_ptr.data<int32_t>();
  const bool narrow_columns = table.col_idx.dtype() == DType::U16;
  const bool half_values = table.values.dtype() == DType::F16;
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t r = rows[i];
    SPARSECAP_CHECK(r >= 0 && r < table.rows, "sparse_embedding: index ", r, " at position ", i, " outside [0, ",
                    table.rows, ")");
    float* row = destination + static_cast<int64_t>(i) * table.cols;
    for (int32_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) {
      const int64_t column = narrow_columns ? static_cast<const uint16_t*>(table.col_idx.raw_data())[k]
                                            : static_cast<const int32_t*>(table.col_idx.raw_data())[k];
      row[column] = half_values ? half_to_float(static_cast<const uint16_t*>(table.values.raw_data())[k])
                                : static_cast<const float*>(table.values.raw_data())[k];
    }
  }
  return out.to(index.device());
}

const Tensor& WeightHandle::dense() const {
  SPARSECAP_CHECK(!is_sparse(), "WeightHandle::dense() on a CSR weight (", csr_->rows, " x ", csr_->cols, ")");
  return dense_;
}

const CsrMatrix& WeightHandle::csr() const {
  SPARSECAP_CHECK(is_sparse(), "WeightHandle::csr() on a dense weight");
  return *csr_;
}

Tensor linear(const Tensor& x, const WeightHandle& weight, const Tensor& bias) {
  if (weight.is_sparse()) return sparse_linear(x, weight.csr(), bias);
  return sparsecap::linear(x, weight.dense(), bias);
}

Tensor embedding(const WeightHandle& table, const Tensor& index) {
  if (table.is_sparse()) return sparse_embedding(table.csr(), index);
  return sparsecap::embedding(table.dense(), index);
}

}  // namespace sparsecap::sparse
