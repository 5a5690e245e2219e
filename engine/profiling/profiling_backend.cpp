#include "engine/profiling/profiling_backend.h"

#include <array>
#include <cctype>
#include <initializer_list>
#include <string>

#include "engine/dtype.h"
#include "engine/sparse/csr_matrix.h"

// What a call counts. Bytes: every tensor the call reads or writes, once each, and twice for a
// tensor it reads and writes back (Adam's moments, a scatter-add's target rows) — the traffic a
// kernel cannot avoid, a lower bound of what it moves (a second pass over its input, as a
// softmax's, is not counted). FLOPs: two per multiply-add of a GEMM, convolution or CSR product.

namespace sparsecap::profiling {

namespace {

// Depth of backend calls on this thread while profiling: 0 outside any call.
thread_local int call_depth = 0;

class CallDepth {
 public:
  CallDepth() { ++call_depth; }
  ~CallDepth() { --call_depth; }
  CallDepth(const CallDepth&) = delete;
  CallDepth& operator=(const CallDepth&) = delete;
};

// "SigmoidGrad" -> "sigmoid_grad".
std::string snake_case(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (i > 0) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

// "unary.exp", ... in the order of kernels::UnaryOp; "binary.add", ... of kernels::BinaryOp.
const std::vector<std::string>& unary_kernel_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
#define SPARSECAP_NAME_ENTRY(name) out.push_back("unary." + snake_case(#name));
    SPARSECAP_UNARY_OPS(SPARSECAP_NAME_ENTRY)
#undef SPARSECAP_NAME_ENTRY
    return out;
  }();
  return names;
}

// "unary.clamp_many", ...: unary_in_place_many's rows (CallWork keeps a view of its name).
const std::vector<std::string>& unary_many_kernel_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const std::string& name : unary_kernel_names()) out.push_back(name + "_many");
    return out;
  }();
  return names;
}

const std::vector<std::string>& binary_kernel_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
#define SPARSECAP_NAME_ENTRY(name) out.push_back("binary." + snake_case(#name));
    SPARSECAP_BINARY_OPS(SPARSECAP_NAME_ENTRY)
#undef SPARSECAP_NAME_ENTRY
    return out;
  }();
  return names;
}

double bytes_of(std::initializer_list<const Tensor*> tensors) {
  double bytes = 0;
  for (const Tensor* tensor : tensors)
    if (tensor->defined()) bytes += static_cast<double>(tensor->nbytes());
  return bytes;
}

CallWork device_bytes(std::string_view kernel, double bytes) { return {kernel, WorkKind::Bytes, bytes}; }
CallWork host_bytes(std::string_view kernel, size_t bytes) {
  return {kernel, WorkKind::HostBytes, static_cast<double>(bytes)};
}
CallWork flops(std::string_view kernel, double count) { return {kernel, WorkKind::Flops, count}; }
CallWork no_work(std::string_view kernel) { return {kernel, WorkKind::None, 0}; }

double convolution_flops(const Conv2dShape& s) {
  return 2.0 * static_cast<double>(s.batch) * static_cast<double>(s.out_channels) * static_cast<double>(s.out_h) *
         static_cast<double>(s.out_w) * static_cast<double>(s.in_channels / s.groups) *
         static_cast<double>(s.kernel_h) * static_cast<double>(s.kernel_w);
}

}  // namespace

ProfilingBackend::ProfilingBackend(Backend& inner, std::unique_ptr<IntervalClock> clock)
    : inner_(inner), clock_(std::move(clock)), profiled_thread_(std::this_thread::get_id()) {}

template <typename Call>
void ProfilingBackend::timed(const CallWork& work, Call&& call) {
  if (call_depth > 0 || std::this_thread::get_id() != profiled_thread_) {
    call();
    return;
  }
  const CallDepth inside;  // what the call does through backend_for belongs to it
  clock_->begin_interval();
  try {
    call();
  } catch (...) {
    clock_->end_interval();  // keeps the intervals and the calls in step
    calls_.push_back(work);
    throw;
  }
  clock_->end_interval();
  calls_.push_back(work);
}

// ---- memory ----

std::shared_ptr<Storage> ProfilingBackend::allocate(size_t bytes) {
  std::shared_ptr<Storage> storage;
  timed(no_work("allocate"), [&] { storage = inner_.allocate(bytes); });
  return storage;
}

void ProfilingBackend::copy_within(void* dst, const void* src, size_t bytes) {
  timed(device_bytes("copy_within", 2.0 * static_cast<double>(bytes)), [&] { inner_.copy_within(dst, src, bytes); });
}

void ProfilingBackend::copy_from_host(void* dst, const void* src, size_t bytes) {
  timed(host_bytes("copy_from_host", bytes), [&] { inner_.copy_from_host(dst, src, bytes); });
}

void ProfilingBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  timed(host_bytes("copy_to_host", bytes), [&] { inner_.copy_to_host(dst, src, bytes); });
}

void ProfilingBackend::synchronize() {
  timed(no_work("synchronize"), [&] { inner_.synchronize(); });
}

std::shared_ptr<CopyFence> ProfilingBackend::copy_from_host_beside(void* dst, const void* src, size_t bytes) {
  std::shared_ptr<CopyFence> fence;
  timed(host_bytes("copy_from_host_beside", bytes), [&] { fence = inner_.copy_from_host_beside(dst, src, bytes); });
  return fence;
}

void ProfilingBackend::wait_for_copies(const CopyFence& fence) {
  timed(no_work("wait_for_copies"), [&] { inner_.wait_for_copies(fence); });
}

// ---- fills and casts ----

void ProfilingBackend::fill(Tensor& out, double value) {
  timed(device_bytes("fill", bytes_of({&out})), [&] { inner_.fill(out, value); });
}

void ProfilingBackend::cast(const Tensor& in, Tensor& out) {
  timed(device_bytes("cast", bytes_of({&in, &out})), [&] { inner_.cast(in, out); });
}

void ProfilingBackend::random_fill(Tensor& out, RandomKind kind, uint64_t seed, uint64_t stream, uint64_t offset,
                                   double p) {
  static constexpr std::array<std::string_view, 3> names = {"random_fill.uniform", "random_fill.normal",
                                                            "random_fill.bernoulli"};
  timed(device_bytes(names[static_cast<size_t>(kind)], bytes_of({&out})),
        [&] { inner_.random_fill(out, kind, seed, stream, offset, p); });
}

// ---- elementwise ----

void ProfilingBackend::unary(kernels::UnaryOp op, const Tensor& x, Tensor& out, kernels::ScalarParams params) {
  timed(device_bytes(unary_kernel_names()[static_cast<size_t>(op)], bytes_of({&x, &out})),
        [&] { inner_.unary(op, x, out, params); });
}

void ProfilingBackend::unary_in_place_many(kernels::UnaryOp op, const std::vector<Tensor>& tensors,
                                           kernels::ScalarParams params) {
  double bytes = 0;
  for (const Tensor& tensor : tensors) bytes += 2.0 * bytes_of({&tensor});
  timed(device_bytes(unary_many_kernel_names()[static_cast<size_t>(op)], bytes),
        [&] { inner_.unary_in_place_many(op, tensors, params); });
}

void ProfilingBackend::binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out,
                              kernels::ScalarParams params) {
  timed(device_bytes(binary_kernel_names()[static_cast<size_t>(op)], bytes_of({&a, &b, &out})),
        [&] { inner_.binary(op, a, b, out, params); });
}

void ProfilingBackend::reduce(ReduceOp op, const Tensor& in, Tensor& out, Tensor& argmax, int64_t outer, int64_t n,
                              int64_t inner) {
  timed(device_bytes(op == ReduceOp::Sum ? "reduce.sum" : "reduce.max", bytes_of({&in, &out, &argmax})),
        [&] { inner_.reduce(op, in, out, argmax, outer, n, inner); });
}

// ---- layout ----

void ProfilingBackend::gemm(const GemmShape& shape, const Tensor& a, const Tensor& b, Tensor& c) {
  const double count = 2.0 * static_cast<double>(shape.batch) * static_cast<double>(shape.m) *
                       static_cast<double>(shape.n) * static_cast<double>(shape.k);
  timed(flops(shape.batch > 1 ? "batched_gemm" : "gemm", count), [&] { inner_.gemm(shape, a, b, c); });
}

void ProfilingBackend::transpose(const Tensor& in, Tensor& out, int64_t outer, int64_t d0, int64_t middle, int64_t d1,
                                 int64_t inner) {
  timed(device_bytes("transpose", bytes_of({&in, &out})),
        [&] { inner_.transpose(in, out, outer, d0, middle, d1, inner); });
}

void ProfilingBackend::copy_blocks(const Tensor& in, Tensor& out, int64_t outer, int64_t length, int64_t in_stride,
                                   int64_t in_offset, int64_t out_stride, int64_t out_offset) {
  const double copied = static_cast<double>(outer) * static_cast<double>(length) * static_cast<double>(dtype_size(in.dtype()));
  timed(device_bytes("copy_blocks", 2.0 * copied),
        [&] { inner_.copy_blocks(in, out, outer, length, in_stride, in_offset, out_stride, out_offset); });
}

// ---- indexing: the rows or columns a call touches, not the whole table ----

void ProfilingBackend::index_select_rows(const Tensor& table, const Tensor& index, Tensor& out, int64_t width) {
  timed(device_bytes("index_select_rows", bytes_of({&index}) + 2.0 * bytes_of({&out})),
        [&] { inner_.index_select_rows(table, index, out, width); });
}

void ProfilingBackend::index_add_rows(const Tensor& src, const Tensor& index, Tensor& table, int64_t width) {
  timed(device_bytes("index_add_rows", 3.0 * bytes_of({&src}) + bytes_of({&index})),
        [&] { inner_.index_add_rows(src, index, table, width); });
}

void ProfilingBackend::gather_columns(const Tensor& in, const Tensor& index, Tensor& out, int64_t rows, int64_t n,
                                      int64_t k) {
  timed(device_bytes("gather_columns", bytes_of({&index}) + 2.0 * bytes_of({&out})),
        [&] { inner_.gather_columns(in, index, out, rows, n, k); });
}

void ProfilingBackend::top_k_rows(const Tensor& in, Tensor& values, Tensor& indices, int64_t rows, int64_t n,
                                  int64_t k) {
  timed(device_bytes("top_k_rows", bytes_of({&in, &values, &indices})),
        [&] { inner_.top_k_rows(in, values, indices, rows, n, k); });
}

void ProfilingBackend::scatter_add_columns(const Tensor& grad_out, const Tensor& index, Tensor& grad_in, int64_t rows,
                                           int64_t n, int64_t k) {
  timed(device_bytes("scatter_add_columns", 3.0 * bytes_of({&grad_out}) + bytes_of({&index})),
        [&] { inner_.scatter_add_columns(grad_out, index, grad_in, rows, n, k); });
}

// ---- row-wise ----

void ProfilingBackend::softmax(const Tensor& x, const Tensor& mask, Tensor& out, int64_t rows, int64_t cols,
                               bool log) {
  timed(device_bytes(log ? "log_softmax" : "softmax", bytes_of({&x, &mask, &out})),
        [&] { inner_.softmax(x, mask, out, rows, cols, log); });
}

void ProfilingBackend::softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, int64_t rows, int64_t cols,
                                        bool log) {
  timed(device_bytes(log ? "log_softmax_backward" : "softmax_backward", bytes_of({&y, &dy, &dx})),
        [&] { inner_.softmax_backward(y, dy, dx, rows, cols, log); });
}

void ProfilingBackend::cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& losses, Tensor& lse,
                                     int64_t rows, int64_t cols, int64_t ignore_index) {
  timed(device_bytes("cross_entropy", bytes_of({&logits, &targets, &losses, &lse})),
        [&] { inner_.cross_entropy(logits, targets, losses, lse, rows, cols, ignore_index); });
}

void ProfilingBackend::cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                              Tensor& dlogits, int64_t rows, int64_t cols, int64_t ignore_index,
                                              double scale) {
  timed(device_bytes("cross_entropy_backward", bytes_of({&logits, &targets, &lse, &dlogits})),
        [&] { inner_.cross_entropy_backward(logits, targets, lse, dlogits, rows, cols, ignore_index, scale); });
}

void ProfilingBackend::layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& out, Tensor& mean,
                                  Tensor& rstd, int64_t rows, int64_t cols, double eps) {
  timed(device_bytes("layer_norm", bytes_of({&x, &gamma, &beta, &out, &mean, &rstd})),
        [&] { inner_.layer_norm(x, gamma, beta, out, mean, rstd, rows, cols, eps); });
}

void ProfilingBackend::layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                           const Tensor& rstd, const Tensor& dy, Tensor& dx, Tensor& dgamma,
                                           Tensor& dbeta, int64_t rows, int64_t cols) {
  timed(device_bytes("layer_norm_backward", bytes_of({&x, &gamma, &mean, &rstd, &dy, &dx, &dgamma, &dbeta})),
        [&] { inner_.layer_norm_backward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, cols); });
}

// ---- images ----

void ProfilingBackend::batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                                  Tensor& running_var, Tensor& out, Tensor& mean, Tensor& invstd, int64_t batch,
                                  int64_t channels, int64_t spatial, bool training, double momentum, double eps) {
  const double running = 2.0 * bytes_of({&running_mean, &running_var});  // read, and updated when training
  timed(device_bytes("batch_norm", bytes_of({&x, &gamma, &beta, &out, &mean, &invstd}) + running), [&] {
    inner_.batch_norm(x, gamma, beta, running_mean, running_var, out, mean, invstd, batch, channels, spatial, training,
                      momentum, eps);
  });
}

void ProfilingBackend::batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                           const Tensor& invstd, const Tensor& dy, Tensor& dx, Tensor& dgamma,
                                           Tensor& dbeta, int64_t batch, int64_t channels, int64_t spatial) {
  timed(device_bytes("batch_norm_backward", bytes_of({&x, &gamma, &mean, &invstd, &dy, &dx, &dgamma, &dbeta})),
        [&] { inner_.batch_norm_backward(x, gamma, mean, invstd, dy, dx, dgamma, dbeta, batch, channels, spatial); });
}

void ProfilingBackend::conv2d(const Tensor& x, const Tensor& weight, Tensor& out, const Conv2dShape& shape) {
  timed(flops("conv2d", convolution_flops(shape)), [&] { inner_.conv2d(x, weight, out, shape); });
}

void ProfilingBackend::conv2d_backward_input(const Tensor& dy, const Tensor& weight, Tensor& dx,
                                             const Conv2dShape& shape) {
  timed(flops("conv2d_backward_input", convolution_flops(shape)),
        [&] { inner_.conv2d_backward_input(dy, weight, dx, shape); });
}

void ProfilingBackend::conv2d_backward_weight(const Tensor& dy, const Tensor& x, Tensor& dweight,
                                              const Conv2dShape& shape) {
  timed(flops("conv2d_backward_weight", convolution_flops(shape)),
        [&] { inner_.conv2d_backward_weight(dy, x, dweight, shape); });
}

void ProfilingBackend::pool2d(PoolKind kind, const Tensor& x, Tensor& out, Tensor& argmax, const Pool2dShape& shape) {
  timed(device_bytes(kind == PoolKind::Max ? "max_pool2d" : "average_pool2d", bytes_of({&x, &out, &argmax})),
        [&] { inner_.pool2d(kind, x, out, argmax, shape); });
}

void ProfilingBackend::pool2d_backward(PoolKind kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                                       const Tensor& argmax, Tensor& dx, const Pool2dShape& shape) {
  timed(device_bytes(kind == PoolKind::Max ? "max_pool2d_backward" : "average_pool2d_backward",
                     bytes_of({&x, &y, &dy, &argmax, &dx})),
        [&] { inner_.pool2d_backward(kind, x, y, dy, argmax, dx, shape); });
}

// ---- optimizers ----

void ProfilingBackend::adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamStep& step) {
  timed(device_bytes("adam_step", 2.0 * bytes_of({&param, &m, &v}) + bytes_of({&grad})),
        [&] { inner_.adam_step(param, grad, m, v, step); });
}

void ProfilingBackend::adam_step_many(const std::vector<AdamUpdate>& updates) {
  double bytes = 0;
  for (const AdamUpdate& u : updates) bytes += 2.0 * bytes_of({&u.param, &u.m, &u.v}) + bytes_of({&u.grad});
  timed(device_bytes("adam_step_many", bytes), [&] { inner_.adam_step_many(updates); });
}

// ---- pruning and recurrent cells ----

void ProfilingBackend::gated_weight(const Tensor& weight, const Tensor& gate, Tensor& out,
                                    const kernels::GateDraw& draw) {
  timed(device_bytes("gated_weight", bytes_of({&weight, &gate, &out})),
        [&] { inner_.gated_weight(weight, gate, out, draw); });
}

void ProfilingBackend::gated_weight_backward(const Tensor& grad_out, const Tensor& weight, const Tensor& gate,
                                             Tensor& grad_weight, Tensor& grad_gate, const kernels::GateDraw& draw) {
  timed(device_bytes("gated_weight_backward", bytes_of({&grad_out, &weight, &gate, &grad_weight, &grad_gate})),
        [&] { inner_.gated_weight_backward(grad_out, weight, gate, grad_weight, grad_gate, draw); });
}

void ProfilingBackend::lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c_prev,
                                 Tensor& state, Tensor& activated_gates, int64_t batch, int64_t hidden) {
  timed(device_bytes("lstm_cell", bytes_of({&input_gates, &hidden_gates, &c_prev, &state, &activated_gates})),
        [&] { inner_.lstm_cell(input_gates, hidden_gates, c_prev, state, activated_gates, batch, hidden); });
}

void ProfilingBackend::lstm_cell_backward(const Tensor& activated_gates, const Tensor& c_prev, const Tensor& state,
                                          const Tensor& grad_state, Tensor& grad_gates, Tensor& grad_c_prev,
                                          int64_t batch, int64_t hidden) {
  timed(device_bytes("lstm_cell_backward",
                     bytes_of({&activated_gates, &c_prev, &state, &grad_state, &grad_gates, &grad_c_prev})),
        [&] {
          inner_.lstm_cell_backward(activated_gates, c_prev, state, grad_state, grad_gates, grad_c_prev, batch, hidden);
        });
}

void ProfilingBackend::additive_attention(const Tensor& keys, const Tensor& query, const Tensor& weight,
                                          const Tensor& bias, Tensor& scores, int64_t rows, int64_t positions,
                                          int64_t width) {
  timed(device_bytes("additive_attention", bytes_of({&keys, &query, &weight, &bias, &scores})),
        [&] { inner_.additive_attention(keys, query, weight, bias, scores, rows, positions, width); });
}

void ProfilingBackend::additive_attention_backward(const Tensor& keys, const Tensor& query, const Tensor& weight,
                                                   const Tensor& grad_scores, Tensor& grad_keys, bool add_to_grad_keys,
                                                   Tensor& grad_query, Tensor& grad_weight, int64_t rows,
                                                   int64_t positions, int64_t width) {
  // grad_keys is read too when it is added to.
  const double bytes = bytes_of({&keys, &query, &weight, &grad_scores, &grad_keys, &grad_query, &grad_weight}) +
                       (add_to_grad_keys ? static_cast<double>(grad_keys.nbytes()) : 0.0);
  timed(device_bytes("additive_attention_backward", bytes), [&] {
    inner_.additive_attention_backward(keys, query, weight, grad_scores, grad_keys, add_to_grad_keys, grad_query,
                                       grad_weight, rows, positions, width);
  });
}

void ProfilingBackend::gru_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h_prev, Tensor& h,
                                Tensor& workspace, int64_t batch, int64_t hidden) {
  timed(device_bytes("gru_cell", bytes_of({&input_gates, &hidden_gates, &h_prev, &h, &workspace})),
        [&] { inner_.gru_cell(input_gates, hidden_gates, h_prev, h, workspace, batch, hidden); });
}

void ProfilingBackend::gru_cell_backward(const Tensor& workspace, const Tensor& h_prev, const Tensor& grad_h,
                                         Tensor& grad_input_gates, Tensor& grad_hidden_gates, Tensor& grad_h_prev,
                                         int64_t batch, int64_t hidden) {
  timed(device_bytes("gru_cell_backward",
                     bytes_of({&workspace, &h_prev, &grad_h, &grad_input_gates, &grad_hidden_gates, &grad_h_prev})),
        [&] {
          inner_.gru_cell_backward(workspace, h_prev, grad_h, grad_input_gates, grad_hidden_gates, grad_h_prev, batch,
                                   hidden);
        });
}

// ---- decoding and sparse inference ----

void ProfilingBackend::beam_search_step(BeamSearchBuffers& buffers, const Tensor& top_values, const Tensor& top_tokens,
                                        const kernels::BeamStepShape& shape) {
  const BeamSearchBuffers& b = buffers;
  const double bytes = bytes_of({&top_values, &top_tokens, &b.scores, &b.next_scores, &b.history, &b.next_history,
                                 &b.parents, &b.tokens, &b.done, &b.finished, &b.result_scores, &b.result_words,
                                 &b.result_lengths});
  timed(device_bytes("beam_search_step", bytes), [&] { inner_.beam_search_step(buffers, top_values, top_tokens, shape); });
}

void ProfilingBackend::csr_linear(const sparse::CsrMatrix& weight, const Tensor& x, const Tensor& bias, Tensor& out,
                                  int64_t batch) {
  timed(flops("csr_linear", 2.0 * static_cast<double>(weight.nnz()) * static_cast<double>(batch)),
        [&] { inner_.csr_linear(weight, x, bias, out, batch); });
}

}  // namespace sparsecap::profiling
