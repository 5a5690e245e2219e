// Row selection (index_select, embedding) with a scatter-add backward, gather along the last dim,
// and the k largest entries of each row (top_k).
#include <limits>
#include <optional>
#include <vector>

#include "engine/ops/op_helpers.h"

namespace sparsecap {

using namespace ops_detail;

Tensor ops_detail::index_checked_on_host(const Tensor& index, Device device, int64_t bound, int64_t ignore,
                                         const char* op) {
  const std::vector<int64_t> values = index.to_vector<int64_t>();
  for (const int64_t value : values)
    SPARSECAP_CHECK(value == ignore || (value >= 0 && value < bound), op, ": index ", value, " out of range [0, ",
                    bound, ")");
  return index.to(device);
}

namespace {
void check_index_tensor(const Tensor& index, const Tensor& x, const char* op) {
  SPARSECAP_CHECK(index.dtype() == DType::I64, op, ": indices must be int64, got ", dtype_name(index.dtype()));
  SPARSECAP_CHECK(index.device() == x.device() || index.device().is_cpu(), op, ": indices on ", index.device().str(),
                  ", data on ", x.device().str());
}
}  // namespace

Tensor index_select(const Tensor& x, const Tensor& index_in) {
  check_index_tensor(index_in, x, "index_select");
  SPARSECAP_CHECK(x.dim() >= 1, "index_select on a scalar");
  const int64_t width = x.numel() / std::max<int64_t>(x.size(0), 1);
  Shape out_shape = index_in.shape();
  out_shape.insert(out_shape.end(), x.shape().begin() + 1, x.shape().end());
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  // Host indices for data on a GPU (tokens, beam parents, repeats) are checked on the host, so
  // the lookup does not wait for the device to check them.
  const bool from_host = index_in.device() != x.device();
  const Tensor index =
      from_host ? index_checked_on_host(index_in, x.device(), x.size(0), std::numeric_limits<int64_t>::min(), "index_select")
                : index_in;
  {
    std::optional<IndicesCheckedOnHost> checked;
    if (from_host) checked.emplace();
    backend_of(x).index_select_rows(x, index, out, width);
  }
  record(out, "index_select", {x}, [index, source = x.shape(), width](const Tensor& g, const NeedsGrad&) {
    Tensor grad = zeros(source, g.dtype(), g.device());
    IndicesCheckedOnHost checked;  // by the forward
    backend_for(g.device()).index_add_rows(g, index, grad, width);
    return std::vector<Tensor>{grad};
  });
  return out;
}

Tensor embedding(const Tensor& table, const Tensor& index) {
  SPARSECAP_CHECK(table.dim() == 2, "embedding table must be [vocabulary, dim], got ", shape_str(table.shape()));
  return index_select(table, index);
}

Tensor gather(const Tensor& x, const Tensor& index) {
  check_index_tensor(index, x, "gather");
  SPARSECAP_CHECK(index.dim() == x.dim() &&
                      Shape(index.shape().begin(), index.shape().end() - 1) == Shape(x.shape().begin(), x.shape().end() - 1),
                  "gather: index ", shape_str(index.shape()), " must match ", shape_str(x.shape()),
                  " except in the last dim");
  const int64_t n = x.size(-1), k = index.size(-1), rows = x.numel() / std::max<int64_t>(n, 1);
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  backend_of(x).gather_columns(x, index, out, rows, n, k);
  record(out, "gather", {x}, [index, source = x.shape(), rows, n, k](const Tensor& g, const NeedsGrad&) {
    Tensor grad = zeros(source, g.dtype(), g.device());
    backend_for(g.device()).scatter_add_columns(g, index, grad, rows, n, k);
    return std::vector<Tensor>{grad};
  });
  return out;
}

std::pair<Tensor, Tensor> top_k(const Tensor& x, int64_t k) {
  SPARSECAP_CHECK(x.dim() >= 1, "top_k on a scalar");
  const int64_t n = x.size(-1), rows = x.numel() / std::max<int64_t>(n, 1);
  SPARSECAP_CHECK(k >= 1 && k <= n, "top_k: k = ", k, " outside [1, ", n, "]");
  check_floating(x, "top_k");
  Shape out_shape = x.shape();
  out_shape.back() = k;
  Tensor values = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor indices = Tensor::empty(out_shape, DType::I64, x.device());
  backend_of(x).top_k_rows(x, values, indices, rows, n, k);
  return {values, indices};
}

}  // namespace sparsecap
