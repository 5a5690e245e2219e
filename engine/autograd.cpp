#include "engine/autograd.h"

#include <unordered_map>

#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/storage.h"

namespace sparsecap {

namespace {
thread_local bool g_grad_mode = true;
// The running sums the backward being run may add into (gradient_accumulator), one per input.
thread_local const std::vector<Tensor>* g_accumulators = nullptr;
}

bool grad_mode_enabled() { return g_grad_mode; }

Node::~Node() {
  std::vector<std::shared_ptr<Node>> pending;
  for (Edge& edge : edges)
    if (edge.node) pending.push_back(std::move(edge.node));
  while (!pending.empty()) {
    std::shared_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    // The last owner takes the node's producers before it dies, so its destructor finds no edge.
    if (node.use_count() == 1)
      for (Edge& edge : node->edges)
        if (edge.node) pending.push_back(std::move(edge.node));
  }
}

NoGradGuard::NoGradGuard() : previous_(g_grad_mode) { g_grad_mode = false; }
NoGradGuard::~NoGradGuard() { g_grad_mode = previous_; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(Tensor& output, const char* name, const std::vector<Tensor>& inputs, BackwardFn backward) {
  if (!any_requires_grad(inputs)) return;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->backward = std::move(backward);
  node->output_shape = output.shape();
  node->output_dtype = output.dtype();
  node->output_device = output.device();
  node->edges.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    Edge edge;
    if (input.defined() && input.requires_grad()) {
      if (input.grad_fn())
        edge.node = input.grad_fn();
      else
        edge.leaf = input.autograd_meta();
    }
    node->edges.push_back(std::move(edge));
  }
  auto meta = output.autograd_meta();
  meta->requires_grad = true;
  meta->grad_fn = std::move(node);
}

namespace {

Tensor apply_hooks(const std::vector<std::function<Tensor(const Tensor&)>>& hooks, Tensor grad) {
  for (const auto& hook : hooks) grad = hook(grad);
  return grad;
}

// True when `impl` is the only handle on its buffer: no other tensor, view, saved tensor or hook
// can see a change made to it in place.
bool sole_owner(const std::shared_ptr<TensorImpl>& impl) {
  return impl.use_count() == 1 && impl->storage.use_count() == 1;
}

// A gradient a leaf may keep as its .grad: held by nothing else, and not a slice of a larger
// buffer that keeping it would keep alive.
bool keepable(const Tensor& t) { return sole_owner(t.impl()) && t.nbytes() == t.impl()->storage->bytes(); }

// total += grad. In place when `alone` (nothing else sees total's buffer): a weight used at each
// time step of an unrolled decoder receives one gradient per step, and adding each out of place
// costs a new buffer and the traffic of writing it. Otherwise out of place, and the sum's fresh
// buffer then takes the later gradients in place. `total` is unchanged if the add throws.
void add_gradient(Tensor& total, const Tensor& grad, bool alone) {
  if (alone && total.shape() == grad.shape() && total.dtype() == grad.dtype() && total.device() == grad.device())
    backend_for(total.device()).binary(kernels::BinaryOp::Add, total, grad, total, {});
  else
    total = add(total, grad);
}

void accumulate(Tensor& slot, Tensor grad) {
  if (slot.defined())
    add_gradient(slot, grad, sole_owner(slot.impl()));
  else
    slot = std::move(grad);
}

void accumulate_into_leaf(AutogradMeta& meta, Tensor grad_in) {
  Tensor grad = apply_hooks(meta.hooks, std::move(grad_in));
  if (meta.grad) {
    const bool alone = sole_owner(meta.grad);
    Tensor total(meta.grad);
    add_gradient(total, grad, alone);
    meta.grad = total.impl();
  } else if (keepable(grad)) {
    // A buffer the backward made and nothing else holds: keep it rather than copy it.
    meta.grad = grad.impl();
  } else {
    // Own the buffer: the incoming gradient may alias a tensor the caller still uses.
    meta.grad = grad.clone().impl();
  }
}

// The running sums of `node`'s inputs that its backward may add into: a node slot or a leaf's
// .grad that nothing else holds, and for a leaf no hook that must see each gradient.
std::vector<Tensor> accumulators_for(const Node& node, std::unordered_map<Node*, Tensor>& grads) {
  std::vector<Tensor> accumulators(node.edges.size());
  for (size_t i = 0; i < node.edges.size(); ++i) {
    const Edge& edge = node.edges[i];
    if (edge.node) {
      const auto found = grads.find(edge.node.get());
      if (found != grads.end() && sole_owner(found->second.impl())) accumulators[i] = found->second;
    } else if (edge.leaf && edge.leaf->grad && edge.leaf->hooks.empty() && sole_owner(edge.leaf->grad)) {
      accumulators[i] = Tensor(edge.leaf->grad);
    }
  }
  return accumulators;
}

// Offers a node's accumulators to gradient_accumulator while its backward runs.
class AccumulatorScope {
 public:
  explicit AccumulatorScope(const std::vector<Tensor>& accumulators) : previous_(g_accumulators) {
    g_accumulators = &accumulators;
  }
  ~AccumulatorScope() { g_accumulators = previous_; }
  AccumulatorScope(const AccumulatorScope&) = delete;
  AccumulatorScope& operator=(const AccumulatorScope&) = delete;

 private:
  const std::vector<Tensor>* previous_;
};

// Nodes reachable from `root` in an order where every node comes before the nodes it feeds
// (Kahn's algorithm on dependency counts; iterative, no recursion).
std::vector<Node*> topological_order(Node* root) {
  std::unordered_map<Node*, int> pending;  // number of consumers not yet processed
  std::vector<Node*> stack{root};
  pending[root] = 0;
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& edge : node->edges) {
      if (!edge.node) continue;
      auto [it, inserted] = pending.try_emplace(edge.node.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(edge.node.get());
    }
  }
  std::vector<Node*> order;
  order.reserve(pending.size());
  std::vector<Node*> ready{root};
  while (!ready.empty()) {
    Node* node = ready.back();
    ready.pop_back();
    order.push_back(node);
    for (const Edge& edge : node->edges) {
      if (edge.node && --pending[edge.node.get()] == 0) ready.push_back(edge.node.get());
    }
  }
  return order;
}

}  // namespace

Tensor gradient_accumulator(size_t input) {
  if (!g_accumulators || input >= g_accumulators->size()) return Tensor();
  return (*g_accumulators)[input];
}

void run_backward(const Tensor& root, const Tensor& grad_output) {
  SPARSECAP_CHECK(root.requires_grad(), "backward() on a tensor that does not require a gradient");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    SPARSECAP_CHECK(root.numel() == 1, "backward() without a gradient needs a one-element tensor, got shape ",
                    shape_str(root.shape()));
    seed = ones(root.shape(), root.dtype(), root.device());
  }
  check_shape(seed, root.shape(), "gradient passed to backward()");
  NoGradGuard no_grad;  // backward closures are written with engine ops; do not record them
  if (!root.grad_fn()) {
    accumulate_into_leaf(*root.autograd_meta(), std::move(seed));
    return;
  }
  std::unordered_map<Node*, Tensor> grads;
  grads[root.grad_fn().get()] = seed;
  for (Node* node : topological_order(root.grad_fn().get())) {
    auto found = grads.find(node);
    if (found == grads.end()) continue;  // no gradient reached this node
    const Tensor grad = apply_hooks(node->hooks, std::move(found->second));
    grads.erase(found);
    NeedsGrad needs(node->edges.size());
    for (size_t i = 0; i < needs.size(); ++i) needs[i] = node->edges[i].active();
    std::vector<Tensor> input_grads;
    {
      const std::vector<Tensor> accumulators = accumulators_for(*node, grads);
      const AccumulatorScope scope(accumulators);
      input_grads = node->backward(grad, needs);
    }
    SPARSECAP_CHECK(input_grads.size() == node->edges.size(), "backward of ", node->name, " returned ",
                    input_grads.size(), " gradients for ", node->edges.size(), " inputs");
    for (size_t i = 0; i < input_grads.size(); ++i) {
      const Edge& edge = node->edges[i];
      if (!edge.active() || !input_grads[i].defined()) continue;
      // Moved, so a gradient no other input shares is held once and can be summed into in place.
      if (edge.node)
        accumulate(grads[edge.node.get()], std::move(input_grads[i]));
      else
        accumulate_into_leaf(*edge.leaf, std::move(input_grads[i]));
    }
  }
}

}  // namespace sparsecap
