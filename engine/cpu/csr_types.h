#pragma once
// The C++ types behind a CPU CSR matrix's dtypes, for the kernels templated on them.
#include <cstdint>

#include "engine/error.h"
#include "engine/sparse/csr_matrix.h"

namespace sparsecap::cpu {

// Calls f(Index{}, Value{}) with Index = uint16_t or int32_t (U16 or I32 column indices) and
// Value = float or uint16_t (F32 values, or F16 values as their bits). Other dtypes throw an
// error naming `who`.
template <typename F>
void visit_csr_types(const sparse::CsrMatrix& matrix, const char* who, F&& f) {
  const DType values = matrix.values.dtype(), indices = matrix.col_idx.dtype();
  SPARSECAP_CHECK(values == DType::F32 || values == DType::F16, who, ": values must be F32 or F16, got ",
                  dtype_name(values));
  SPARSECAP_CHECK(indices == DType::U16 || indices == DType::I32, who, ": col_idx must be U16 or I32, got ",
                  dtype_name(indices));
  auto with_values = [&](auto index) {
    if (values == DType::F16)
      f(index, uint16_t{});
    else
      f(index, float{});
  };
  if (indices == DType::U16)
    with_values(uint16_t{});
  else
    with_values(int32_t{});
}

}  // namespace sparsecap::cpu
