// CudaBackend::csr_linear: our warp-per-row kernel for small batches (cuda/kernels/sparse.cu; see
// CsrKernel), otherwise cuSPARSE's generic API. Y [batch, rows] = X [batch, cols] · Wᵀ
// is computed as Yᵀ = W · Xᵀ: X row-major [batch, cols] is Xᵀ column-major [cols, batch] with
// leading dimension cols, and Y row-major is Yᵀ column-major [rows, batch] with leading dimension
// rows, so no transposes are needed. Batch 1 runs as SpMV; larger batches as SpMM with
// CUSPARSE_SPMM_CSR_ALG1, the CSR algorithm that accepts column-major dense operands.
// The workspace cuSPARSE asks for is cached per device and only grows, so a decoder step does
// not allocate. Indices and values arrive widened (I32, F32) by CsrMatrix::to(cuda).
#include <map>
#include <memory>
#include <mutex>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/sparse.h"
#include "cuda/library_handles.h"
#include "engine/sparse/csr_matrix.h"

namespace sparsecap::cuda {

namespace {

// RAII owners of the cuSPARSE descriptors one call creates.
struct SparseMatrixDescriptor {
  cusparseSpMatDescr_t descriptor = nullptr;
  ~SparseMatrixDescriptor() {
    if (descriptor) cusparseDestroySpMat(descriptor);
  }
};
struct DenseMatrixDescriptor {
  cusparseDnMatDescr_t descriptor = nullptr;
  ~DenseMatrixDescriptor() {
    if (descriptor) cusparseDestroyDnMat(descriptor);
  }
};
struct DenseVectorDescriptor {
  cusparseDnVecDescr_t descriptor = nullptr;
  ~DenseVectorDescriptor() {
    if (descriptor) cusparseDestroyDnVec(descriptor);
  }
};

// The cached cuSPARSE workspace of each device (grow-only). Deliberately never destroyed: freeing
// it from a static destructor could run after the device's allocator is gone.
void* workspace(CudaBackend& backend, size_t bytes) {
  static std::mutex mutex;
  static auto* buffers = new std::map<int, std::shared_ptr<Storage>>();
  if (bytes == 0) return nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<Storage>& buffer = (*buffers)[backend.device().index];
  if (!buffer || buffer->bytes() < bytes) buffer = backend.allocate(bytes);
  return buffer->data();
}

void create_csr_descriptor(const sparse::CsrMatrix& weight, SparseMatrixDescriptor& matrix) {
  SPARSECAP_CUSPARSE_CHECK(cusparseCreateCsr(&matrix.descriptor, weight.rows, weight.cols, weight.nnz(),
                                             weight.row_ptr.raw_data(), weight.col_idx.raw_data(),
                                             weight.values.raw_data(), CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                             CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
}

void sparse_matrix_vector(CudaBackend& backend, cusparseSpMatDescr_t matrix, const sparse::CsrMatrix& weight,
                          const Tensor& x, Tensor& out, float beta) {
  cusparseHandle_t handle = backend.handles().cusparse();
  DenseVectorDescriptor input, output;
  SPARSECAP_CUSPARSE_CHECK(cusparseCreateDnVec(&input.descriptor, weight.cols, x.raw_data(), CUDA_R_32F));
  SPARSECAP_CUSPARSE_CHECK(cusparseCreateDnVec(&output.descriptor, weight.rows, out.raw_data(), CUDA_R_32F));
  const float alpha = 1.0f;
  size_t bytes = 0;
  SPARSECAP_CUSPARSE_CHECK(cusparseSpMV_bufferSize(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, matrix,
                                                   input.descriptor, &beta, output.descriptor, CUDA_R_32F,
                                                   CUSPARSE_SPMV_CSR_ALG1, &bytes));
  SPARSECAP_CUSPARSE_CHECK(cusparseSpMV(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, matrix, input.descriptor,
                                        &beta, output.descriptor, CUDA_R_32F, CUSPARSE_SPMV_CSR_ALG1,
                                        workspace(backend, bytes)));
}

void sparse_matrix_matrix(CudaBackend& backend, cusparseSpMatDescr_t matrix, const sparse::CsrMatrix& weight,
                          const Tensor& x, Tensor& out, int64_t batch, float beta) {
  cusparseHandle_t handle = backend.handles().cusparse();
  DenseMatrixDescriptor input, output;
  SPARSECAP_CUSPARSE_CHECK(cusparseCreateDnMat(&input.descriptor, weight.cols, batch, weight.cols, x.raw_data(),
                                               CUDA_R_32F, CUSPARSE_ORDER_COL));
  SPARSECAP_CUSPARSE_CHECK(cusparseCreateDnMat(&output.descriptor, weight.rows, batch, weight.rows, out.raw_data(),
                                               CUDA_R_32F, CUSPARSE_ORDER_COL));
  const float alpha = 1.0f;
  size_t bytes = 0;
  SPARSECAP_CUSPARSE_CHECK(cusparseSpMM_bufferSize(handle, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                   CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, matrix, input.descriptor,
                                                   &beta, output.descriptor, CUDA_R_32F, CUSPARSE_SPMM_CSR_ALG1,
                                                   &bytes));
  SPARSECAP_CUSPARSE_CHECK(cusparseSpMM(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                        &alpha, matrix, input.descriptor, &beta, output.descriptor, CUDA_R_32F,
                                        CUSPARSE_SPMM_CSR_ALG1, workspace(backend, bytes)));
}

}  // namespace

void CudaBackend::csr_linear(const sparse::CsrMatrix& weight, const Tensor& x, const Tensor& bias, Tensor& out,
                             int64_t batch) {
  require_here({&weight.row_ptr, &weight.col_idx, &weight.values, &x, &out}, "csr_linear");
  SPARSECAP_CHECK(weight.col_idx.dtype() == DType::I32 && weight.values.dtype() == DType::F32,
                  "csr_linear on ", device().str(), ": expected I32 indices and F32 values (CsrMatrix::to), got ",
                  dtype_name(weight.col_idx.dtype()), " and ", dtype_name(weight.values.dtype()));
  SPARSECAP_CHECK(x.dtype() == DType::F32 && out.dtype() == DType::F32, "csr_linear: activations must be float32");
  const bool own = csr_kernel_ == CsrKernel::Own || (csr_kernel_ == CsrKernel::Auto && batch <= kOwnCsrMaxBatch);
  if (own) {
    if (bias.defined()) {
      require_here({&bias}, "csr_linear");
      require_float32(bias, "csr_linear bias");
    }
    DeviceGuard guard(index_);
    launchers::csr_linear_warp_rows(
        static_cast<const int32_t*>(weight.row_ptr.raw_data()), static_cast<const int32_t*>(weight.col_idx.raw_data()),
        static_cast<const float*>(weight.values.raw_data()), static_cast<const float*>(x.raw_data()),
        bias.defined() ? static_cast<const float*>(bias.raw_data()) : nullptr, static_cast<float*>(out.raw_data()),
        weight.rows, weight.cols, batch, stream());
    return;
  }
  SparseMatrixDescriptor matrix;
  create_csr_descriptor(weight, matrix);
  // The bias is added after the product (cuSPARSE's beta would need it broadcast into out first).
  Tensor product = bias.defined() ? Tensor::empty(out.shape(), DType::F32, out.device()) : out;
  if (batch == 1)
    sparse_matrix_vector(*this, matrix.descriptor, weight, x, product, 0.0f);
  else
    sparse_matrix_matrix(*this, matrix.descriptor, weight, x, product, batch, 0.0f);
  if (bias.defined()) binary(kernels::BinaryOp::Add, product, bias, out, kernels::ScalarParams{});
}

}  // namespace sparsecap::cuda
