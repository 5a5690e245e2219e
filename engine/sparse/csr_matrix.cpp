#include "engine/sparse/csr_matrix.h"

#include <limits>
#include <vector>

#include "engine/error.h"

namespace sparsecap::sparse {

namespace {

// Column indices as int64 on the host, whatever their stored type.
std::vector<int64_t> column_indices(const CsrMatrix& matrix) {
  const Tensor indices = matrix.col_idx.to(Device::cpu());
  std::vector<int64_t> out(static_cast<size_t>(indices.numel()));
  if (indices.dtype() == DType::U16) {
    const auto* data = indices.data<uint16_t>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = data[i];
  } else {
    const auto* data = indices.data<int32_t>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = data[i];
  }
  return out;
}

// Values as float32 on the host, whatever their stored type.
std::vector<float> float_values(const CsrMatrix& matrix) {
  const Tensor values = matrix.values.to(Device::cpu());
  std::vector<float> out(static_cast<size_t>(values.numel()));
  if (values.dtype() == DType::F16) {
    const auto* data = static_cast<const uint16_t*>(values.raw_data());  // F16 bits
    for (size_t i = 0; i < out.size(); ++i) out[i] = half_to_float(data[i]);
  } else {
    const auto* data = values.data<float>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = data[i];
  }
  return out;
}

Tensor host_i32(const std::vector<int32_t>& values) {
  return from_host(values.data(), {static_cast<int64_t>(values.size())}, DType::I32);
}

}  // namespace

double CsrMatrix::density() const {
  return rows * cols == 0 ? 0.0 : static_cast<double>(nnz()) / static_cast<double>(rows * cols);
}

size_t CsrMatrix::stored_bytes() const { return row_ptr.nbytes() + col_idx.nbytes() + values.nbytes(); }

CsrMatrix CsrMatrix::to(Device device) const {
  if (device.is_cpu()) return CsrMatrix{rows, cols, row_ptr.to(device), col_idx.to(device), values.to(device)};
  // cuSPARSE takes 32- or 64-bit indices and (for float32 activations) float32 values.
  std::vector<int32_t> wide_indices;
  for (int64_t index : column_indices(*this)) wide_indices.push_back(static_cast<int32_t>(index));
  const std::vector<float> wide_values = float_values(*this);
  return CsrMatrix{rows, cols, row_ptr.to(device), host_i32(wide_indices).to(device),
                   from_host(wide_values.data(), {nnz()}, DType::F32).to(device)};
}

DType narrowest_column_index_dtype(int64_t cols) {
  return cols <= static_cast<int64_t>(std::numeric_limits<uint16_t>::max()) + 1 ? DType::U16 : DType::I32;
}

CsrMatrix csr_from_dense(const Tensor& dense, DType value_dtype) {
  SPARSECAP_CHECK(dense.dim() == 2, "csr_from_dense: expected a 2-D matrix, got ", shape_str(dense.shape()));
  SPARSECAP_CHECK(value_dtype == DType::F32 || value_dtype == DType::F16,
                  "csr_from_dense: values must be F32 or F16, got ", dtype_name(value_dtype));
  const int64_t rows = dense.size(0), cols = dense.size(1);
  SPARSECAP_CHECK(rows * cols <= std::numeric_limits<int32_t>::max(), "csr_from_dense: ", rows, " x ", cols,
                  " matrix has more entries than int32 row pointers can address");
  const std::vector<float> entries = dense.to_vector<float>();
  std::vector<int32_t> row_ptr(static_cast<size_t>(rows + 1), 0);
  std::vector<int32_t> columns;
  std::vector<float> values;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float value = entries[static_cast<size_t>(r * cols + c)];
      if (value == 0.0f) continue;
      columns.push_back(static_cast<int32_t>(c));
      values.push_back(value);
    }
    row_ptr[static_cast<size_t>(r + 1)] = static_cast<int32_t>(values.size());
  }
  const int64_t nnz = static_cast<int64_t>(values.size());
  CsrMatrix matrix{rows, cols, host_i32(row_ptr), Tensor(), Tensor()};
  if (narrowest_column_index_dtype(cols) == DType::U16) {
    std::vector<uint16_t> narrow(columns.begin(), columns.end());
    matrix.col_idx = from_host(narrow.data(), {nnz}, DType::U16);
  } else {
    matrix.col_idx = host_i32(columns);
  }
  if (value_dtype == DType::F16) {
    std::vector<uint16_t> halves(values.size());
    for (size_t i = 0; i < values.size(); ++i) halves[i] = float_to_half(values[i]);
    matrix.values = from_host(halves.data(), {nnz}, DType::F16);
  } else {
    matrix.values = from_host(values.data(), {nnz}, DType::F32);
  }
  return matrix;
}

Tensor csr_to_dense(const CsrMatrix& matrix) {
  const std::vector<int32_t> row_ptr = matrix.row_ptr.to_vector<int32_t>();
  const std::vector<int64_t> columns = column_indices(matrix);
  const std::vector<float> values = float_values(matrix);
  std::vector<float> dense(static_cast<size_t>(matrix.rows * matrix.cols), 0.0f);
  for (int64_t r = 0; r < matrix.rows; ++r)
    for (int32_t i = row_ptr[static_cast<size_t>(r)]; i < row_ptr[static_cast<size_t>(r + 1)]; ++i)
      dense[static_cast<size_t>(r * matrix.cols + columns[static_cast<size_t>(i)])] = values[static_cast<size_t>(i)];
  return from_host(dense.data(), {matrix.rows, matrix.cols}, DType::F32);
}

namespace {

void check_dtypes(const CsrMatrix& m, const std::string& what) {
  SPARSECAP_CHECK(m.row_ptr.defined() && m.col_idx.defined() && m.values.defined(), what,
                  ": row_ptr, col_idx and values must all be present");
  SPARSECAP_CHECK(m.row_ptr.dtype() == DType::I32, what, ": row_ptr must be I32, got ", dtype_name(m.row_ptr.dtype()));
  SPARSECAP_CHECK(m.col_idx.dtype() == DType::U16 || m.col_idx.dtype() == DType::I32, what,
                  ": col_idx must be U16 or I32, got ", dtype_name(m.col_idx.dtype()));
  SPARSECAP_CHECK(m.values.dtype() == DType::F16 || m.values.dtype() == DType::F32, what,
                  ": values must be F16 or F32, got ", dtype_name(m.values.dtype()));
  SPARSECAP_CHECK(m.col_idx.dtype() == DType::I32 || m.cols <= 65536, what, ": U16 col_idx cannot index ", m.cols,
                  " columns");
}

void check_lengths(const CsrMatrix& m, const std::string& what) {
  SPARSECAP_CHECK(m.rows >= 0 && m.cols >= 0, what, ": negative shape [", m.rows, ", ", m.cols, "]");
  SPARSECAP_CHECK(m.row_ptr.dim() == 1 && m.row_ptr.numel() == m.rows + 1, what, ": row_ptr has ",
                  m.row_ptr.numel(), " entries, expected rows + 1 = ", m.rows + 1);
  SPARSECAP_CHECK(m.col_idx.dim() == 1 && m.values.dim() == 1 && m.col_idx.numel() == m.values.numel(), what,
                  ": col_idx has ", m.col_idx.numel(), " entries but values has ", m.values.numel());
}

void check_row_pointers(const std::vector<int32_t>& row_ptr, int64_t nnz, const std::string& what) {
  SPARSECAP_CHECK(row_ptr.front() == 0, what, ": row_ptr[0] = ", row_ptr.front(), ", expected 0");
  for (size_t r = 0; r + 1 < row_ptr.size(); ++r)
    SPARSECAP_CHECK(row_ptr[r + 1] >= row_ptr[r], what, ": row_ptr decreases at row ", r, " (", row_ptr[r], " -> ",
                    row_ptr[r + 1], ")");
  SPARSECAP_CHECK(row_ptr.back() == nnz, what, ": row_ptr ends at ", row_ptr.back(), ", expected nnz = ", nnz);
}

void check_columns(const std::vector<int32_t>& row_ptr, const std::vector<int64_t>& columns, int64_t cols,
                   const std::string& what) {
  for (size_t r = 0; r + 1 < row_ptr.size(); ++r) {
    for (int32_t i = row_ptr[r]; i < row_ptr[r + 1]; ++i) {
      const int64_t c = columns[static_cast<size_t>(i)];
      SPARSECAP_CHECK(c >= 0 && c < cols, what, ": col_idx[", i, "] = ", c, " in row ", r, " outside [0, ", cols, ")");
      SPARSECAP_CHECK(i == row_ptr[r] || c > columns[static_cast<size_t>(i - 1)], what, ": col_idx not strictly increasing in row ",
                      r, " (entry ", i, ": ", columns[static_cast<size_t>(i - 1)], " then ", c, ")");
    }
  }
}

}  // namespace

void validate_csr(const CsrMatrix& matrix, const std::string& what) {
  check_dtypes(matrix, what);
  check_lengths(matrix, what);
  const std::vector<int32_t> row_ptr = matrix.row_ptr.to_vector<int32_t>();
  check_row_pointers(row_ptr, matrix.nnz(), what);
  check_columns(row_ptr, column_indices(matrix), matrix.cols, what);
}

}  // namespace sparsecap::sparse
