#include "engine/tensor.h"

#include <cstring>
#include <sstream>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace sparsecap {

namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  SPARSECAP_CHECK(impl != nullptr, "use of an undefined tensor");
  return *impl;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) SPARSECAP_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = backend_for(device).allocate(static_cast<size_t>(numel_of(shape)) * dtype_size(dtype));
  return Tensor(std::move(impl));
}

const Shape& Tensor::shape() const { return checked(impl_).shape; }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device(); }

int64_t Tensor::size(int64_t d) const { return shape()[static_cast<size_t>(wrap_dim(d, dim()))]; }

void* Tensor::raw_data() const {
  const TensorImpl& impl = checked(impl_);
  return static_cast<char*>(impl.storage->data()) + impl.offset * static_cast<int64_t>(dtype_size(impl.dtype));
}

void Tensor::copy_to_host(void* dst, size_t bytes) const {
  SPARSECAP_CHECK(bytes == nbytes(), "copy_to_host of ", nbytes(), " bytes into a buffer of ", bytes);
  if (bytes == 0) return;
  backend_for(device()).copy_to_host(dst, raw_data(), bytes);
}

double Tensor::item() const {
  SPARSECAP_CHECK(numel() == 1, "item() needs a one-element tensor, got shape ", shape_str(shape()));
  return to_vector<double>()[0];
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = device().is_cpu() ? *this : to(Device::cpu());
  const Tensor converted = host.dtype() == dtype_of<T>() ? host : host.detach().to(dtype_of<T>());
  std::vector<T> out(static_cast<size_t>(numel()));
  if (!out.empty()) std::memcpy(out.data(), converted.raw_data(), out.size() * sizeof(T));
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;
template std::vector<uint16_t> Tensor::to_vector<uint16_t>() const;

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape(), dtype(), target);
  if (nbytes() > 0) {
    if (device().is_cpu()) {
      backend_for(target).copy_from_host(out.raw_data(), raw_data(), nbytes());
    } else if (target.is_cpu()) {
      backend_for(device()).copy_to_host(out.raw_data(), raw_data(), nbytes());
    } else {  // device to device through the host: rare (multi-GPU), kept simple
      std::vector<char> staging(nbytes());
      backend_for(device()).copy_to_host(staging.data(), raw_data(), nbytes());
      backend_for(target).copy_from_host(out.raw_data(), staging.data(), nbytes());
    }
  }
  const Device source = device();
  record(out, "to_device", {*this}, [source](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{g.to(source)};
  });
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target, device());
  backend_for(device()).cast(*this, out);
  if (is_floating(dtype()) && is_floating(target)) {
    const DType source = dtype();
    record(out, "to_dtype", {*this}, [source](const Tensor& g, const NeedsGrad&) {
      return std::vector<Tensor>{g.to(source)};
    });
  }
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  if (nbytes() > 0) backend_for(device()).copy_within(out.raw_data(), raw_data(), nbytes());
  record(out, "clone", {*this}, [](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor Tensor::reshape(const Shape& requested) const {
  Shape target = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      SPARSECAP_CHECK(infer_at < 0, "reshape to ", shape_str(requested), ": only one dimension may be -1");
      infer_at = static_cast<int64_t>(i);
    } else {
      known *= target[i];
    }
  }
  if (infer_at >= 0 && known > 0) target[static_cast<size_t>(infer_at)] = numel() / known;
  SPARSECAP_CHECK(numel_of(target) == numel(), "cannot reshape ", shape_str(shape()), " to ", shape_str(requested));
  auto impl = std::make_shared<TensorImpl>(*impl_);
  impl->shape = target;
  impl->autograd = nullptr;
  Tensor out(std::move(impl));
  const Shape original = shape();
  record(out, "reshape", {*this}, [original](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{g.reshape(original)};
  });
  return out;
}

Tensor Tensor::narrow_rows(int64_t start, int64_t length) const {
  SPARSECAP_CHECK(dim() >= 1, "narrow_rows on a scalar");
  SPARSECAP_CHECK(start >= 0 && length >= 0 && start + length <= shape()[0], "narrow_rows(", start, ", ", length,
                  ") out of range for shape ", shape_str(shape()));
  auto impl = std::make_shared<TensorImpl>(*impl_);
  impl->shape[0] = length;
  impl->offset += start * (shape()[0] ? numel() / shape()[0] : 0);
  impl->autograd = nullptr;
  Tensor out(std::move(impl));
  const Shape original = shape();
  record(out, "narrow_rows", {*this}, [original, start](const Tensor& g, const NeedsGrad&) {
    // Into the running sum of the source's gradient where autograd offers it: a row taken at every
    // step of an unrolled decoder then costs an add of the row's size, not a fill, a copy and an
    // add of the whole source.
    const Tensor running = gradient_accumulator(0);
    if (running.defined() && running.shape() == original && running.dtype() == g.dtype() &&
        running.device() == g.device()) {
      Tensor rows = running.narrow_rows(start, g.shape()[0]);
      backend_for(g.device()).binary(kernels::BinaryOp::Add, rows, g, rows, {});
      return std::vector<Tensor>{Tensor()};
    }
    Tensor grad = zeros(original, g.dtype(), g.device());
    grad.narrow_rows(start, g.shape()[0]).copy_(g);
    return std::vector<Tensor>{grad};
  });
  return out;
}

Tensor Tensor::row(int64_t index) const {
  Shape rest(shape().begin() + 1, shape().end());
  return narrow_rows(index, 1).reshape(rest);
}

std::shared_ptr<AutogradMeta> Tensor::autograd_meta() const {
  SPARSECAP_CHECK(impl_ != nullptr, "use of an undefined tensor");
  if (!impl_->autograd) impl_->autograd = std::make_shared<AutogradMeta>();
  return impl_->autograd;
}

bool Tensor::requires_grad() const { return impl_ && impl_->autograd && impl_->autograd->requires_grad; }

Tensor& Tensor::set_requires_grad(bool value) {
  SPARSECAP_CHECK(!value || is_floating(dtype()), "only floating tensors can require gradients, got ",
                  dtype_name(dtype()));
  SPARSECAP_CHECK(!grad_fn(), "set_requires_grad on a non-leaf tensor; detach() it first");
  autograd_meta()->requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  if (!impl_ || !impl_->autograd || !impl_->autograd->grad) return Tensor();
  return Tensor(impl_->autograd->grad);
}

void Tensor::set_grad(const Tensor& grad) const {
  if (grad.defined()) check_shape(grad, shape(), "gradient");
  autograd_meta()->grad = grad.impl();
}

void Tensor::zero_grad() const {
  if (impl_ && impl_->autograd) impl_->autograd->grad = nullptr;
}

bool Tensor::is_leaf() const { return grad_fn() == nullptr; }

std::shared_ptr<Node> Tensor::grad_fn() const {
  return (impl_ && impl_->autograd) ? impl_->autograd->grad_fn : nullptr;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>(checked(impl_));
  impl->autograd = nullptr;
  return Tensor(std::move(impl));
}

void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

void Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) const {
  SPARSECAP_CHECK(requires_grad(), "register_hook on a tensor that does not require a gradient");
  if (grad_fn())
    grad_fn()->hooks.push_back(std::move(hook));
  else
    autograd_meta()->hooks.push_back(std::move(hook));
}

Tensor& Tensor::copy_(const Tensor& source) {
  check_shape(source, shape(), "copy_ source");
  Tensor converted = source.detach();
  if (converted.device() != device()) converted = converted.to(device());
  if (converted.dtype() != dtype()) converted = converted.to(dtype());
  if (nbytes() > 0) backend_for(device()).copy_within(raw_data(), converted.raw_data(), nbytes());
  return *this;
}

Tensor& Tensor::fill_(double value) {
  backend_for(device()).fill(*this, value);
  return *this;
}

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream out;
  out << "Tensor(" << shape_str(shape()) << ", " << dtype_name(dtype()) << ", " << device().str() << ", [";
  const std::vector<double> values = to_vector<double>();
  for (size_t i = 0; i < values.size() && i < 8; ++i) out << (i ? ", " : "") << values[i];
  if (values.size() > 8) out << ", ...";
  out << "])";
  return out.str();
}

void check_shape(const Tensor& tensor, const Shape& expected, const std::string& what) {
  SPARSECAP_CHECK(tensor.shape() == expected, what, ": expected ", shape_str(expected), ", got ",
                  shape_str(tensor.shape()));
}

// ---- creation ----

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor out = Tensor::empty(shape, dtype, device);
  out.fill_(value);
  return out;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor from_host(const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor out = Tensor::empty(shape, dtype, device);
  if (out.nbytes() > 0) backend_for(device).copy_from_host(out.raw_data(), data, out.nbytes());
  return out;
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  SPARSECAP_CHECK(static_cast<int64_t>(values.size()) == numel_of(shape), "from_vector: ", values.size(),
                  " values for shape ", shape_str(shape));
  return from_host(values.data(), shape, dtype_of<T>(), device);
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Device);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, Device);
template Tensor from_vector<uint16_t>(const std::vector<uint16_t>&, const Shape&, Device);

Tensor arange(int64_t start, int64_t end, DType dtype, Device device) {
  std::vector<double> values;
  for (int64_t i = start; i < end; ++i) values.push_back(static_cast<double>(i));
  return from_vector(values, {static_cast<int64_t>(values.size())}, device).to(dtype);
}

namespace {
Tensor random_tensor(const Shape& shape, RandomKind kind, double p, Generator& generator, DType dtype,
                     Device device) {
  SPARSECAP_CHECK(is_floating(dtype) && dtype != DType::F16, "random fills produce float32 or float64, not ",
                  dtype_name(dtype));
  Tensor out = Tensor::empty(shape, dtype, device);
  const uint64_t offset = generator.take(static_cast<uint64_t>(out.numel()));
  backend_for(device).random_fill(out, kind, generator.seed(), generator.stream(), offset, p);
  return out;
}
}  // namespace

Tensor rand(const Shape& shape, Generator& generator, DType dtype, Device device) {
  return random_tensor(shape, RandomKind::Uniform, 0.0, generator, dtype, device);
}
Tensor randn(const Shape& shape, Generator& generator, DType dtype, Device device) {
  return random_tensor(shape, RandomKind::Normal, 0.0, generator, dtype, device);
}
Tensor bernoulli(const Shape& shape, double p, Generator& generator, DType dtype, Device device) {
  SPARSECAP_CHECK(p >= 0.0 && p <= 1.0, "bernoulli probability ", p, " outside [0, 1]");
  return random_tensor(shape, RandomKind::Bernoulli, p, generator, dtype, device);
}

}  // namespace sparsecap
