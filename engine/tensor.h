#pragma once
// Tensor: a cheap handle (shared pointer) to shape, dtype, device, storage + offset and the
// autograd fields. Row-major and contiguous; a view may only offset along the leading dimension.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace sparsecap {

class Tensor;
struct Node;
class Generator;

// The autograd state of a tensor, shared with the graph edges that point at it (a leaf's
// gradient is accumulated here without the graph keeping the leaf's data alive).
struct AutogradMeta {
  bool requires_grad = false;
  std::shared_ptr<struct TensorImpl> grad;             // accumulated gradient (leaves)
  std::shared_ptr<Node> grad_fn;                       // producer (non-leaves)
  std::vector<std::function<Tensor(const Tensor&)>> hooks;  // run on the gradient before use
};

struct TensorImpl {
  Shape shape;
  DType dtype = DType::F32;
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  std::shared_ptr<AutogradMeta> autograd;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialised memory of the given shape; the building block of every op.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;
  int64_t numel() const { return numel_of(shape()); }
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }

  // Raw pointer to the first element (device memory for CUDA tensors).
  void* raw_data() const;
  template <typename T>
  T* data() const {
    SPARSECAP_CHECK(dtype() == dtype_of<T>(), "tensor holds ", dtype_name(dtype()), ", accessed as ",
                    dtype_name(dtype_of<T>()));
    return static_cast<T*>(raw_data());
  }

  // ---- host access ----
  double item() const;  // one-element tensors only
  template <typename T> std::vector<T> to_vector() const;  // host copy, converting the dtype
  void copy_to_host(void* dst, size_t bytes) const;

  // ---- conversion ----
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;  // differentiable between floating types
  Tensor clone() const;

  // ---- views (share storage) ----
  Tensor reshape(const Shape& shape) const;       // differentiable; -1 infers one dimension
  Tensor narrow_rows(int64_t start, int64_t length) const;  // view along dim 0, differentiable
  Tensor row(int64_t index) const;                 // narrow_rows(index, 1) without the leading dim

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& set_requires_grad(bool value);
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;
  bool is_leaf() const;
  std::shared_ptr<Node> grad_fn() const;
  Tensor detach() const;  // same storage, no history
  void backward(const Tensor& grad_output = Tensor()) const;
  void register_hook(std::function<Tensor(const Tensor&)> hook) const;

  // ---- in-place updates (no autograd; optimizers, initialisers, pruning) ----
  Tensor& copy_(const Tensor& source);
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }

  std::string str() const;  // shape, dtype, device and the first values
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  std::shared_ptr<AutogradMeta> autograd_meta() const;  // created on first use

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- creation ----
Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = Device::cpu());
Tensor arange(int64_t start, int64_t end, DType dtype = DType::I64, Device device = Device::cpu());
Tensor scalar_tensor(double value, DType dtype = DType::F32, Device device = Device::cpu());
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());
Tensor from_host(const void* data, const Shape& shape, DType dtype, Device device = Device::cpu());
// Random fills from the engine RNG (Philox): each call consumes numel draws of the generator.
Tensor rand(const Shape& shape, Generator& generator, DType dtype = DType::F32, Device device = Device::cpu());
Tensor randn(const Shape& shape, Generator& generator, DType dtype = DType::F32, Device device = Device::cpu());
Tensor bernoulli(const Shape& shape, double p, Generator& generator, DType dtype = DType::F32,
                 Device device = Device::cpu());

// Throws "<what>: expected <expected>, got <actual>" when the shapes differ.
void check_shape(const Tensor& tensor, const Shape& expected, const std::string& what);

}  // namespace sparsecap
