// CudaBackend: memory, fills, elementwise, reductions, GEMM, layout, indexing, row-wise nn and
// Adam. Convolutions are in cuda_convolution.cpp, batch norm and pooling in
// cuda_batch_norm_pooling.cpp.
#include "cuda/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cuda/device_wide.h"
#include "cuda/kernels/attention.h"
#include "cuda/kernels/decoding.h"
#include "cuda/kernels/fused.h"
#include "cuda/kernels/kernels.h"
#include "cuda/tensor_pointers.h"

namespace sparsecap::cuda {

namespace {


// The bit pattern of `value` converted to `dtype` exactly as the CPU backend converts it.
uint64_t fill_bits(DType dtype, double value) {
  uint64_t bits = 0;
  auto store = [&](auto converted) { std::memcpy(&bits, &converted, sizeof(converted)); };
  switch (dtype) {
    case DType::F16: store(float_to_half(static_cast<float>(value))); break;
    case DType::F32: store(static_cast<float>(value)); break;
    case DType::F64: store(value); break;
    case DType::I32: store(static_cast<int32_t>(value)); break;
    case DType::I64: store(static_cast<int64_t>(value)); break;
    case DType::U8: store(static_cast<uint8_t>(value)); break;
    case DType::U16: store(static_cast<uint16_t>(value)); break;
    case DType::Bool: store(static_cast<uint8_t>(static_cast<bool>(value))); break;
  }
  return bits;
}

// The NumPy broadcast of a and b to out, as strides per merged output dimension (0 along
// broadcast dimensions); the same plan as the CPU backend's.
std::vector<int64_t> aligned_strides(const Shape& input, const Shape& out) {
  const size_t rank = out.size(), offset = rank - input.size();
  std::vector<int64_t> strides(rank, 0);
  int64_t running = 1;
  for (size_t i = rank; i-- > offset;) {
    const int64_t size = input[i - offset];
    strides[i] = size == 1 ? 0 : running;
    running *= size;
  }
  return strides;
}

launchers::BroadcastLayout plan_broadcast(const Shape& a, const Shape& b, const Shape& out) {
  const std::vector<int64_t> sa = aligned_strides(a, out), sb = aligned_strides(b, out);
  std::vector<int64_t> sizes, a_strides, b_strides;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;
    if (!sizes.empty() && a_strides.back() == sa[i] * out[i] && b_strides.back() == sb[i] * out[i]) {
      sizes.back() *= out[i];
      a_strides.back() = sa[i];
      b_strides.back() = sb[i];
      continue;
    }
    sizes.push_back(out[i]);
    a_strides.push_back(sa[i]);
    b_strides.push_back(sb[i]);
  }
  if (sizes.empty()) {
    sizes = {1};
    a_strides = {0};
    b_strides = {0};
  }
  SPARSECAP_CHECK(sizes.size() <= static_cast<size_t>(launchers::kMaxBroadcastRank), "cuda binary op: broadcasting ",
                  shape_str(a), " with ", shape_str(b), " to ", shape_str(out), " needs ", sizes.size(),
                  " dimensions after merging, at most ", launchers::kMaxBroadcastRank, " are supported");
  launchers::BroadcastLayout layout;
  layout.rank = static_cast<int>(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    layout.sizes[i] = sizes[i];
    layout.a_strides[i] = a_strides[i];
    layout.b_strides[i] = b_strides[i];
  }
  return layout;
}

int checked_int(int64_t value, const char* what) {
  SPARSECAP_CHECK(value >= 0 && value <= std::numeric_limits<int>::max(), "cuda gemm: ", what, " = ", value,
                  " does not fit cuBLAS's 32-bit int");
  return static_cast<int>(value);
}

// A host table (a launch's chunk list) on the device: copied through the staging copy, ordered
// on the compute stream before the launch that reads it. Once that launch is queued, dropping the
// tensor returns its block to the stream-ordered cache.
template <typename Row>
Tensor table_on_device(Backend& backend, const std::vector<Row>& rows) {
  const size_t bytes = rows.size() * sizeof(Row);
  Tensor table = Tensor::empty({static_cast<int64_t>(bytes)}, DType::U8, backend.device());
  backend.copy_from_host(table.raw_data(), rows.data(), bytes);
  return table;
}

}  // namespace

CudaBackend::CudaBackend(int index)
    : index_(index), stream_(index), allocator_(index, stream_.get()), handles_(index, stream_.get()) {}

// ---- checks ----

void CudaBackend::require_here(std::initializer_list<const Tensor*> tensors, const char* op) const {
  for (const Tensor* t : tensors)
    SPARSECAP_CHECK(!t->defined() || t->device() == device(), op, ": expected tensors on ", device().str(),
                    ", got one on ", t->device().str());
}

void CudaBackend::require_float32(const Tensor& tensor, const char* op) const {
  SPARSECAP_CHECK(tensor.dtype() == DType::F32, op, " on ", device().str(), ": unsupported dtype ",
                  dtype_name(tensor.dtype()),
                  " (the CUDA backend computes in float32; float64 is for CPU gradient checks)");
}

void CudaBackend::check_indices(const Tensor& index, int64_t bound, int64_t ignore, const char* op) {
  const int64_t n = index.numel();
  if (n == 0) return;
  SPARSECAP_CHECK(index.dtype() == DType::I64, op, ": indices must be int64, got ", dtype_name(index.dtype()));
  if (IndicesCheckedOnHost::active()) return;
  DeviceGuard guard(index_);
  std::shared_ptr<Storage> flag = allocate(sizeof(unsigned long long));
  auto* first_bad = static_cast<unsigned long long*>(flag->data());
  launchers::fill_pattern(first_bad, 1, 8, std::numeric_limits<uint64_t>::max(), stream());
  launchers::find_out_of_range(i64(index), n, bound, ignore, first_bad, stream());
  unsigned long long position = 0;
  copy_to_host(&position, first_bad, sizeof(position));
  if (position == std::numeric_limits<unsigned long long>::max()) return;
  int64_t value = 0;
  copy_to_host(&value, i64(index) + position, sizeof(value));
  throw Error(::sparsecap::detail::concat(op, ": index ", value, " out of range [0, ", bound, ")"));
}

// ---- memory ----

std::shared_ptr<Storage> CudaBackend::allocate(size_t bytes) {
  if (bytes == 0) return std::make_shared<Storage>(nullptr, 0, device(), nullptr);
  void* pointer = allocator_.allocate(bytes);
  // The backend outlives every tensor (backends are never destroyed), so the raw pointer is safe.
  CachingAllocator* allocator = &allocator_;
  return std::make_shared<Storage>(pointer, bytes, device(), [allocator](void* p) { allocator->release(p); });
}

void CudaBackend::copy_within(void* dst, const void* src, size_t bytes) {
  if (bytes == 0 || dst == src) return;
  DeviceGuard guard(index_);
  SPARSECAP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}

void CudaBackend::copy_from_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  DeviceGuard guard(index_);
  staging_.copy_from_host(dst, src, bytes, stream());
}

void CudaBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  DeviceGuard guard(index_);
  staging_.copy_to_host(dst, src, bytes, stream());
}

void CudaBackend::synchronize() { stream_.synchronize(); }

namespace {

// An event recorded on the copy stream after a side copy. Dropping it makes the compute stream
// wait for it: a batch discarded unused (the end of an epoch) returns its memory to the allocator,
// whose blocks the compute stream reuses, while its copy may still be running.
class CudaCopyFence final : public CopyFence {
 public:
  explicit CudaCopyFence(cudaStream_t compute) : compute_(compute) {
    SPARSECAP_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
  }
  ~CudaCopyFence() override {
    // Never throws (destructor): a failure here means the device is already lost.
    cudaStreamWaitEvent(compute_, done_, 0);
    cudaEventDestroy(done_);  // released once the wait has passed it
  }
  CudaCopyFence(const CudaCopyFence&) = delete;
  CudaCopyFence& operator=(const CudaCopyFence&) = delete;
  cudaEvent_t event() const { return done_; }

 private:
  cudaStream_t compute_;
  cudaEvent_t done_ = nullptr;
};

}  // namespace

std::shared_ptr<CopyFence> CudaBackend::copy_from_host_beside(void* dst, const void* src, size_t bytes) {
  DeviceGuard guard(index_);
  std::lock_guard<std::mutex> lock(copy_stream_mutex_);
  if (!copy_stream_) copy_stream_ = std::make_unique<Stream>(index_);
  // dst comes from the caching allocator, whose blocks are reused in the compute stream's order:
  // kernels queued before its last free may still use it. The copy starts after everything queued.
  Event queued;
  queued.record(stream());
  SPARSECAP_CUDA_CHECK(cudaStreamWaitEvent(copy_stream_->get(), queued.get(), 0));
  staging_.copy_from_host(dst, src, bytes, copy_stream_->get());
  auto fence = std::make_shared<CudaCopyFence>(stream());
  SPARSECAP_CUDA_CHECK(cudaEventRecord(fence->event(), copy_stream_->get()));
  return fence;
}

void CudaBackend::wait_for_copies(const CopyFence& fence) {
  const auto* copies = dynamic_cast<const CudaCopyFence*>(&fence);
  SPARSECAP_CHECK(copies != nullptr, "wait_for_copies on ", device().str(), ": the fence is not a CUDA copy fence");
  DeviceGuard guard(index_);
  SPARSECAP_CUDA_CHECK(cudaStreamWaitEvent(stream(), copies->event(), 0));
}

// ---- fills and casts ----

void CudaBackend::fill(Tensor& out, double value) {
  require_here({&out}, "fill");
  DeviceGuard guard(index_);
  launchers::fill_pattern(out.raw_data(), out.numel(), dtype_size(out.dtype()), fill_bits(out.dtype(), value),
                        stream());
}

void CudaBackend::cast(const Tensor& in, Tensor& out) {
  require_here({&in, &out}, "cast");
  DeviceGuard guard(index_);
  launchers::cast(in.raw_data(), launchers::element_type(in.dtype()), out.raw_data(), launchers::element_type(out.dtype()), in.numel(),
                stream());
}

void CudaBackend::random_fill(Tensor& out, RandomKind kind, uint64_t seed, uint64_t stream_id, uint64_t offset,
                              double p) {
  require_here({&out}, "random_fill");
  SPARSECAP_CHECK(out.dtype() == DType::F32 || out.dtype() == DType::F64, "random_fill: unsupported dtype ",
                  dtype_name(out.dtype()), " (float32 or float64)");
  const launchers::RandomDistribution distribution = kind == RandomKind::Uniform ? launchers::RandomDistribution::Uniform
                                                   : kind == RandomKind::Normal
                                                       ? launchers::RandomDistribution::Normal
                                                       : launchers::RandomDistribution::Bernoulli;
  DeviceGuard guard(index_);
  launchers::random_fill(out.raw_data(), out.dtype() == DType::F64, out.numel(), distribution, seed, stream_id, offset,
                       static_cast<float>(p), stream());
}

// ---- elementwise ----

void CudaBackend::unary(kernels::UnaryOp op, const Tensor& x, Tensor& out, kernels::ScalarParams params) {
  require_here({&x, &out}, "unary op");
  require_float32(x, "unary op");
  DeviceGuard guard(index_);
  launchers::unary(op, f32(x), f32(out), x.numel(), params, stream());
}

void CudaBackend::unary_in_place_many(kernels::UnaryOp op, const std::vector<Tensor>& tensors,
                                      kernels::ScalarParams params) {
  std::vector<launchers::UnaryChunk> chunks;
  for (const Tensor& tensor : tensors) {
    require_here({&tensor}, "unary op");
    require_float32(tensor, "unary op");
    Tensor target = tensor;
    for (int64_t begin = 0; begin < tensor.numel(); begin += launchers::kUnaryChunkElements)
      chunks.push_back({f32(target), begin, std::min(tensor.numel(), begin + launchers::kUnaryChunkElements)});
  }
  if (chunks.empty()) return;
  const Tensor table = table_on_device(*this, chunks);
  DeviceGuard guard(index_);
  launchers::unary_chunks(op, static_cast<const launchers::UnaryChunk*>(table.raw_data()),
                          static_cast<int64_t>(chunks.size()), params, stream());
}

void CudaBackend::binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out,
                         kernels::ScalarParams params) {
  require_here({&a, &b, &out}, "binary op");
  require_float32(out, "binary op");
  const int64_t total = out.numel();
  if (total == 0) return;
  const launchers::BroadcastLayout layout = plan_broadcast(a.shape(), b.shape(), out.shape());
  DeviceGuard guard(index_);
  launchers::binary(op, f32(a), f32(b), f32(out), total, layout, params, stream());
}

// ---- reductions ----

void CudaBackend::reduce(ReduceOp op, const Tensor& in, Tensor& out, Tensor& argmax, int64_t outer, int64_t n,
                         int64_t inner) {
  require_here({&in, &out, &argmax}, "reduce");
  require_float32(in, "reduce");
  DeviceGuard guard(index_);
  if (op == ReduceOp::Max) {
    int64_t* argmax_data = argmax.defined() ? static_cast<int64_t*>(argmax.raw_data()) : nullptr;
    launchers::max_along(f32(in), f32(out), argmax_data, outer, n, inner, stream());
    return;
  }
  if (outer == 1 && inner == 1) {  // one long sum (a loss, a norm): CUB, accumulated in double
    const size_t temp_bytes = device_wide::sum_to_double_temp_bytes(n);
    std::shared_ptr<Storage> temp = allocate(temp_bytes);
    std::shared_ptr<Storage> total = allocate(sizeof(double));
    device_wide::sum_to_double(f32(in), static_cast<double*>(total->data()), n, temp->data(), temp_bytes, stream());
    launchers::double_to_float(static_cast<const double*>(total->data()), f32(out), stream());
    return;
  }
  launchers::sum_along(f32(in), f32(out), outer, n, inner, stream());
}

// ---- GEMM ----

void CudaBackend::gemm_raw(const GemmShape& s, const void* a, const void* b, void* c, DType dtype) {
  SPARSECAP_CHECK(dtype == DType::F32 || dtype == DType::F64, "gemm on ", device().str(), ": unsupported dtype ",
                  dtype_name(dtype));
  SPARSECAP_CHECK(s.batch == 1 || s.c_batch_stride != 0, "gemm: a batch of ", s.batch,
                  " products cannot share one output (c_batch_stride 0)");
  if (s.m == 0 || s.n == 0 || s.batch == 0) return;
  // cuBLAS is column-major. A row-major C [m, n] is a column-major C^T [n, m], and
  // C^T = op(B)^T op(A)^T: pass B as cuBLAS's first operand and A as its second, with the
  // leading dimensions of the row-major storage.
  const cublasOperation_t op_b = s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = s.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int ldb = checked_int(s.trans_b ? s.k : s.n, "ldb");
  const int lda = checked_int(s.trans_a ? s.m : s.k, "lda");
  const int ldc = checked_int(s.n, "ldc");
  const int m = checked_int(s.n, "n"), n = checked_int(s.m, "m"), k = checked_int(s.k, "k");
  const int batch = checked_int(s.batch, "batch");
  DeviceGuard guard(index_);
  cublasHandle_t handle = handles_.cublas();
  if (dtype == DType::F32) {
    const float alpha = static_cast<float>(s.alpha), beta = static_cast<float>(s.beta);
    // CUBLAS_COMPUTE_32F keeps full float32 products; _FAST_TF32 lets Ampere+ tensor cores round
    // the inputs to TF32 (opt-in through CudaOptions::allow_tf32).
    const cublasComputeType_t compute = options().allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    SPARSECAP_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, op_b, op_a, m, n, k, &alpha, b, CUDA_R_32F, ldb,
                                                      s.b_batch_stride, a, CUDA_R_32F, lda, s.a_batch_stride, &beta,
                                                      c, CUDA_R_32F, ldc, s.c_batch_stride, batch, compute,
                                                      CUBLAS_GEMM_DEFAULT));
  } else {
    const double alpha = s.alpha, beta = s.beta;
    SPARSECAP_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, op_b, op_a, m, n, k, &alpha, b, CUDA_R_64F, ldb,
                                                      s.b_batch_stride, a, CUDA_R_64F, lda, s.a_batch_stride, &beta,
                                                      c, CUDA_R_64F, ldc, s.c_batch_stride, batch, CUBLAS_COMPUTE_64F,
                                                      CUBLAS_GEMM_DEFAULT));
  }
}

void CudaBackend::gemm(const GemmShape& shape, const Tensor& a, const Tensor& b, Tensor& c) {
  require_here({&a, &b, &c}, "gemm");
  SPARSECAP_CHECK(a.dtype() == c.dtype() && b.dtype() == c.dtype(), "gemm: dtypes ", dtype_name(a.dtype()), ", ",
                  dtype_name(b.dtype()), ", ", dtype_name(c.dtype()), " differ");
  gemm_raw(shape, a.raw_data(), b.raw_data(), c.raw_data(), c.dtype());
}

// ---- layout ----

void CudaBackend::transpose(const Tensor& in, Tensor& out, int64_t outer, int64_t d0, int64_t middle, int64_t d1,
                            int64_t inner) {
  require_here({&in, &out}, "transpose");
  DeviceGuard guard(index_);
  launchers::transpose(in.raw_data(), out.raw_data(), dtype_size(in.dtype()), outer, d0, middle, d1, inner, stream());
}

void CudaBackend::copy_blocks(const Tensor& in, Tensor& out, int64_t outer, int64_t length, int64_t in_stride,
                              int64_t in_offset, int64_t out_stride, int64_t out_offset) {
  require_here({&in, &out}, "copy_blocks");
  if (outer == 0 || length == 0) return;
  const size_t element = dtype_size(in.dtype());
  const char* src = static_cast<const char*>(in.raw_data()) + in_offset * static_cast<int64_t>(element);
  char* dst = static_cast<char*>(out.raw_data()) + out_offset * static_cast<int64_t>(element);
  const size_t width = static_cast<size_t>(length) * element;
  DeviceGuard guard(index_);
  if (outer == 1) {
    SPARSECAP_CUDA_CHECK(cudaMemcpyAsync(dst, src, width, cudaMemcpyDeviceToDevice, stream()));
    return;
  }
  SPARSECAP_CHECK(in_stride >= length && out_stride >= length, "copy_blocks: strides ", in_stride, " and ",
                  out_stride, " shorter than the block length ", length);
  // A strided copy of `outer` rows of `width` bytes is exactly what cudaMemcpy2DAsync does.
  SPARSECAP_CUDA_CHECK(cudaMemcpy2DAsync(dst, static_cast<size_t>(out_stride) * element, src,
                                         static_cast<size_t>(in_stride) * element, width,
                                         static_cast<size_t>(outer), cudaMemcpyDeviceToDevice, stream()));
}

// ---- indexing ----

void CudaBackend::index_select_rows(const Tensor& table, const Tensor& index, Tensor& out, int64_t width) {
  require_here({&table, &index, &out}, "index_select");
  const int64_t rows = table.numel() / std::max<int64_t>(width, 1);
  check_indices(index, rows, std::numeric_limits<int64_t>::min(), "index_select");
  DeviceGuard guard(index_);
  launchers::index_select_rows(table.raw_data(), i64(index), out.raw_data(), dtype_size(table.dtype()), index.numel(),
                             width, stream());
}

void CudaBackend::index_add_rows(const Tensor& src, const Tensor& index, Tensor& table, int64_t width) {
  require_here({&src, &index, &table}, "index_add");
  require_float32(src, "index_add");
  const int64_t rows = table.numel() / std::max<int64_t>(width, 1);
  const int64_t n = index.numel();
  check_indices(index, rows, std::numeric_limits<int64_t>::min(), "index_add");
  DeviceGuard guard(index_);
  if (!options().deterministic) {
    launchers::index_add_rows_atomic(f32(src), i64(index), f32(table), n, width, stream());
    return;
  }
  // Deterministic: sort (index, position) pairs stably by index, then sum each run of equal
  // indices in position order.
  std::shared_ptr<Storage> positions = allocate(static_cast<size_t>(n) * sizeof(int64_t));
  std::shared_ptr<Storage> sorted_index = allocate(static_cast<size_t>(n) * sizeof(int64_t));
  std::shared_ptr<Storage> sorted_position = allocate(static_cast<size_t>(n) * sizeof(int64_t));
  launchers::arange(static_cast<int64_t*>(positions->data()), n, stream());
  const size_t temp_bytes = device_wide::sort_pairs_temp_bytes(n);
  std::shared_ptr<Storage> temp = allocate(temp_bytes);
  device_wide::sort_pairs(i64(index), static_cast<int64_t*>(sorted_index->data()),
                          static_cast<const int64_t*>(positions->data()),
                          static_cast<int64_t*>(sorted_position->data()), n, temp->data(), temp_bytes, stream());
  launchers::index_add_rows_sorted(f32(src), static_cast<const int64_t*>(sorted_index->data()),
                                 static_cast<const int64_t*>(sorted_position->data()), f32(table), n, width,
                                 stream());
}

void CudaBackend::gather_columns(const Tensor& in, const Tensor& index, Tensor& out, int64_t rows, int64_t n,
                                 int64_t k) {
  require_here({&in, &index, &out}, "gather");
  require_float32(in, "gather");
  check_indices(index, n, std::numeric_limits<int64_t>::min(), "gather");
  DeviceGuard guard(index_);
  launchers::gather_columns(f32(in), i64(index), f32(out), rows, n, k, stream());
}

void CudaBackend::top_k_rows(const Tensor& in, Tensor& values, Tensor& indices, int64_t rows, int64_t n, int64_t k) {
  require_here({&in, &values, &indices}, "top_k");
  require_float32(in, "top_k");
  DeviceGuard guard(index_);
  launchers::top_k_rows(f32(in), f32(values), i64(indices), rows, n, k, stream());
}

void CudaBackend::scatter_add_columns(const Tensor& grad_out, const Tensor& index, Tensor& grad_in, int64_t rows,
                                      int64_t n, int64_t k) {
  require_here({&grad_out, &index, &grad_in}, "scatter_add");
  require_float32(grad_out, "scatter_add");
  DeviceGuard guard(index_);
  launchers::scatter_add_columns(f32(grad_out), i64(index), f32(grad_in), rows, n, k, stream());
}

// ---- row-wise nn ----

void CudaBackend::softmax(const Tensor& x, const Tensor& mask, Tensor& out, int64_t rows, int64_t cols, bool log) {
  require_here({&x, &mask, &out}, "softmax");
  require_float32(x, "softmax");
  if (mask.defined()) require_float32(mask, "softmax mask");
  const int64_t mask_rows = mask.defined() ? mask.numel() / std::max<int64_t>(cols, 1) : 0;
  const int64_t group = mask_rows ? rows / mask_rows : 1;
  DeviceGuard guard(index_);
  launchers::softmax(f32(x), f32(mask), group, f32(out), rows, cols, log, stream());
}

void CudaBackend::softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, int64_t rows, int64_t cols,
                                   bool log) {
  require_here({&y, &dy, &dx}, "softmax_backward");
  require_float32(y, "softmax_backward");
  DeviceGuard guard(index_);
  launchers::softmax_backward(f32(y), f32(dy), f32(dx), rows, cols, log, stream());
}

void CudaBackend::cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& losses, Tensor& lse,
                                int64_t rows, int64_t cols, int64_t ignore_index) {
  require_here({&logits, &targets, &losses, &lse}, "cross_entropy");
  require_float32(logits, "cross_entropy");
  check_indices(targets, cols, ignore_index, "cross_entropy target");
  DeviceGuard guard(index_);
  launchers::cross_entropy(f32(logits), i64(targets), f32(losses), f32(lse), rows, cols, ignore_index, stream());
}

void CudaBackend::cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                         Tensor& dlogits, int64_t rows, int64_t cols, int64_t ignore_index,
                                         double scale) {
  require_here({&logits, &targets, &lse, &dlogits}, "cross_entropy_backward");
  require_float32(logits, "cross_entropy_backward");
  DeviceGuard guard(index_);
  launchers::cross_entropy_backward(f32(logits), i64(targets), f32(lse), f32(dlogits), rows, cols, ignore_index,
                                  static_cast<float>(scale), stream());
}

void CudaBackend::layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& out, Tensor& mean,
                             Tensor& rstd, int64_t rows, int64_t cols, double eps) {
  require_here({&x, &gamma, &beta, &out, &mean, &rstd}, "layer_norm");
  require_float32(x, "layer_norm");
  DeviceGuard guard(index_);
  launchers::layer_norm(f32(x), f32(gamma), f32(beta), f32(out), f32(mean), f32(rstd), rows, cols, eps, stream());
}

void CudaBackend::layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                                      const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta, int64_t rows,
                                      int64_t cols) {
  require_here({&x, &gamma, &mean, &rstd, &dy, &dx, &dgamma, &dbeta}, "layer_norm_backward");
  require_float32(x, "layer_norm_backward");
  DeviceGuard guard(index_);
  launchers::layer_norm_backward(f32(x), f32(gamma), f32(mean), f32(rstd), f32(dy), f32(dx), f32(dgamma), f32(dbeta),
                               rows, cols, stream());
}

// ---- optimizers ----

void CudaBackend::adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamStep& step) {
  require_here({&param, &grad, &m, &v}, "adam_step");
  require_float32(param, "adam_step");
  // The same coefficients as the CPU backend (engine/backend.h computes them once).
  const kernels::AdamCoefficients c = adam_coefficients(step);
  DeviceGuard guard(index_);
  launchers::adam_step(f32(param), f32(grad), f32(m), f32(v), param.numel(), c, stream());
}

void CudaBackend::adam_step_many(const std::vector<AdamUpdate>& updates) {
  std::vector<launchers::AdamChunk> chunks;
  for (const AdamUpdate& u : updates) {
    require_here({&u.param, &u.grad, &u.m, &u.v}, "adam_step");
    require_float32(u.param, "adam_step");
    const kernels::AdamCoefficients c = adam_coefficients(u.step);
    Tensor param = u.param, m = u.m, v = u.v;
    for (int64_t begin = 0; begin < param.numel(); begin += launchers::kAdamChunkElements)
      chunks.push_back({f32(param), f32(u.grad), f32(m), f32(v), begin,
                        std::min(param.numel(), begin + launchers::kAdamChunkElements), c});
  }
  if (chunks.empty()) return;
  const Tensor table = table_on_device(*this, chunks);
  DeviceGuard guard(index_);
  launchers::adam_step_chunks(static_cast<const launchers::AdamChunk*>(table.raw_data()),
                              static_cast<int64_t>(chunks.size()), stream());
}

// ---- fused pruning and recurrent-cell kernels (cuda/kernels/fused.cu) ----

void CudaBackend::gated_weight(const Tensor& weight, const Tensor& gate, Tensor& out,
                               const sparsecap::kernels::GateDraw& draw) {
  require_here({&weight, &gate, &out}, "gated_weight");
  require_float32(weight, "gated_weight");
  DeviceGuard guard(index_);
  launchers::gated_weight(f32(weight), f32(gate), f32(out), weight.numel(), draw, stream());
}

void CudaBackend::gated_weight_backward(const Tensor& grad_out, const Tensor& weight, const Tensor& gate,
                                        Tensor& grad_weight, Tensor& grad_gate,
                                        const sparsecap::kernels::GateDraw& draw) {
  require_here({&grad_out, &weight, &gate, &grad_weight, &grad_gate}, "gated_weight_backward");
  require_float32(weight, "gated_weight_backward");
  DeviceGuard guard(index_);
  launchers::gated_weight_backward(f32(grad_out), f32(weight), f32(gate), f32(grad_weight), f32(grad_gate),
                                 weight.numel(), draw, stream());
}

void CudaBackend::lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c_prev,
                            Tensor& state, Tensor& activated_gates, int64_t batch, int64_t hidden) {
  require_here({&input_gates, &hidden_gates, &c_prev, &state, &activated_gates}, "lstm_cell");
  require_float32(input_gates, "lstm_cell");
  DeviceGuard guard(index_);
  launchers::lstm_cell(f32(input_gates), f32(hidden_gates), f32(c_prev), f32(state), f32(activated_gates), batch,
                     hidden, stream());
}

void CudaBackend::lstm_cell_backward(const Tensor& activated_gates, const Tensor& c_prev, const Tensor& state,
                                     const Tensor& grad_state, Tensor& grad_gates, Tensor& grad_c_prev, int64_t batch,
                                     int64_t hidden) {
  require_here({&activated_gates, &c_prev, &state, &grad_state, &grad_gates, &grad_c_prev}, "lstm_cell_backward");
  require_float32(activated_gates, "lstm_cell_backward");
  DeviceGuard guard(index_);
  launchers::lstm_cell_backward(f32(activated_gates), f32(c_prev), f32(state), f32(grad_state), f32(grad_gates),
                              f32(grad_c_prev), batch, hidden, stream());
}

void CudaBackend::gru_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h_prev, Tensor& h,
                           Tensor& workspace, int64_t batch, int64_t hidden) {
  require_here({&input_gates, &hidden_gates, &h_prev, &h, &workspace}, "gru_cell");
  require_float32(input_gates, "gru_cell");
  DeviceGuard guard(index_);
  launchers::gru_cell(f32(input_gates), f32(hidden_gates), f32(h_prev), f32(h), f32(workspace), batch, hidden,
                    stream());
}

void CudaBackend::gru_cell_backward(const Tensor& workspace, const Tensor& h_prev, const Tensor& grad_h,
                                    Tensor& grad_input_gates, Tensor& grad_hidden_gates, Tensor& grad_h_prev,
                                    int64_t batch, int64_t hidden) {
  require_here({&workspace, &h_prev, &grad_h, &grad_input_gates, &grad_hidden_gates, &grad_h_prev},
               "gru_cell_backward");
  require_float32(workspace, "gru_cell_backward");
  DeviceGuard guard(index_);
  launchers::gru_cell_backward(f32(workspace), f32(h_prev), f32(grad_h), f32(grad_input_gates), f32(grad_hidden_gates),
                             f32(grad_h_prev), batch, hidden, stream());
}

// ---- fused additive attention (cuda/kernels/attention.cu) ----

void CudaBackend::additive_attention(const Tensor& keys, const Tensor& query, const Tensor& weight, const Tensor& bias,
                                     Tensor& scores, int64_t rows, int64_t positions, int64_t width) {
  require_here({&keys, &query, &weight, &bias, &scores}, "additive_attention");
  require_float32(keys, "additive_attention");
  DeviceGuard guard(index_);
  launchers::additive_attention(f32(keys), f32(query), f32(weight), f32(bias), f32(scores), rows, positions, width,
                                stream());
}

void CudaBackend::additive_attention_backward(const Tensor& keys, const Tensor& query, const Tensor& weight,
                                              const Tensor& grad_scores, Tensor& grad_keys, bool add_to_grad_keys,
                                              Tensor& grad_query, Tensor& grad_weight, int64_t rows,
                                              int64_t positions, int64_t width) {
  require_here({&keys, &query, &weight, &grad_scores, &grad_keys, &grad_query, &grad_weight},
               "additive_attention_backward");
  require_float32(keys, "additive_attention_backward");
  // The weight gradient's per-row partial sums: [rows, width], a fraction of the keys' size,
  // from the stream-ordered cache (released once the launches are queued).
  Tensor weight_partials = Tensor::empty({rows, width}, DType::F32, device());
  DeviceGuard guard(index_);
  launchers::additive_attention_backward(f32(keys), f32(query), f32(weight), f32(grad_scores), f32(grad_keys),
                                         add_to_grad_keys, f32(grad_query), f32(grad_weight), f32(weight_partials),
                                         rows, positions, width, stream());
}

void CudaBackend::beam_search_step(BeamSearchBuffers& buffers, const Tensor& top_values, const Tensor& top_tokens,
                                   const sparsecap::kernels::BeamStepShape& shape) {
  require_here({&top_values, &top_tokens, &buffers.scores, &buffers.next_scores, &buffers.history,
                &buffers.next_history, &buffers.parents, &buffers.tokens, &buffers.done, &buffers.finished,
                &buffers.result_scores, &buffers.result_words, &buffers.result_lengths},
               "beam_search_step");
  require_float32(top_values, "beam_search_step");
  DeviceGuard guard(index_);
  launchers::beam_search_step(buffers.arrays<float>(top_values, top_tokens), shape, buffers.images, stream());
}

}  // namespace sparsecap::cuda
