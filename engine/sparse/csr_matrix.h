#pragma once
// A CSR (compressed sparse row) weight matrix [rows, cols]: the storage of a pruned weight in a
// sparse export and the operand of the sparse linear primitive (Backend::csr_linear).
//
//   row_ptr  I32 [rows + 1]   row r's non-zeros are entries row_ptr[r] .. row_ptr[r + 1] - 1
//   col_idx  U16 or I32 [nnz] column of each non-zero, strictly increasing within a row
//   values   F16 or F32 [nnz] the non-zero values (F16 is widened to float32 when computing)
//
// Column indices use the narrowest type that fits (U16 up to 65 536 columns), so a non-zero costs
// 4 bytes in float16 and 6 in float32. The three tensors live on one device; the CUDA backend
// keeps its copies widened (I32 indices, F32 values), the types cuSPARSE computes with.
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "engine/tensor.h"

namespace sparsecap::sparse {

// A layout of the same matrix that a backend kernel derives from the CSR arrays on first use
// (the CPU's sliced layout, engine/cpu/sliced_multiply.h).
struct DerivedLayout {
  virtual ~DerivedLayout() = default;
};

// Where a CsrMatrix keeps its derived layout, shared by its copies. `source` records the arrays
// the layout was built from, so a copy whose arrays were replaced builds a fresh one; arrays
// changed in place are not detected (a CsrMatrix is not modified once it has been computed with).
struct DerivedLayoutSlot {
  std::mutex mutex;
  std::array<const void*, 3> source{};
  std::shared_ptr<const DerivedLayout> layout;
};

struct CsrMatrix {
  int64_t rows = 0, cols = 0;
  Tensor row_ptr, col_idx, values;
  std::shared_ptr<DerivedLayoutSlot> derived = std::make_shared<DerivedLayoutSlot>();

  int64_t nnz() const { return values.defined() ? values.numel() : 0; }
  Device device() const { return values.device(); }
  double density() const;  // nnz / (rows * cols)
  // Bytes of the three arrays as stored.
  size_t stored_bytes() const;
  // A copy on `device`: indices widened to I32 and values to F32 for CUDA (what cuSPARSE
  // accepts); unchanged types on the CPU.
  CsrMatrix to(Device device) const;

  // The layout `build(*this)` derives, built on the first call and reused while the arrays stay
  // the same. Thread-safe.
  template <typename Layout, typename Build>
  std::shared_ptr<const Layout> derived_layout(Build build) const {
    const std::array<const void*, 3> arrays{row_ptr.raw_data(), col_idx.raw_data(), values.raw_data()};
    std::lock_guard<std::mutex> lock(derived->mutex);
    auto layout = std::dynamic_pointer_cast<const Layout>(derived->layout);
    if (!layout || derived->source != arrays) {
      layout = build(*this);
      derived->layout = layout;
      derived->source = arrays;
    }
    return layout;
  }
};

// U16 when `cols` <= 65 536 (indices 0 .. 65 535), else I32.
DType narrowest_column_index_dtype(int64_t cols);

// The non-zeros of a dense 2-D float tensor (any device) as CSR on the CPU, values stored as
// `value_dtype` (F32 or F16). Exact zeros are dropped; for F16, values that round to zero are kept
// as explicit zeros so the structure matches the float32 export.
CsrMatrix csr_from_dense(const Tensor& dense, DType value_dtype = DType::F32);

// The dense float32 matrix [rows, cols] on the CPU.
Tensor csr_to_dense(const CsrMatrix& matrix);

// Checks the CSR invariants on a CPU matrix: dtypes, lengths (row_ptr rows + 1, col_idx and
// values nnz), row_ptr starting at 0, monotone and ending at nnz, column indices in [0, cols) and
// strictly increasing within each row. Throws sparsecap::Error naming `what` (file and tensor)
// and the first offending row or entry.
void validate_csr(const CsrMatrix& matrix, const std::string& what);

}  // namespace sparsecap::sparse
