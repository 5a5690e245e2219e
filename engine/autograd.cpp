#include "engine/autograd.h"

#include <unordered_map>

#include "engine/ops.h"

namespace sparsecap {

namespace {
thread_local bool g_grad_mode = true;
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

void accumulate(Tensor& slot, const Tensor& grad) { slot = slot.defined() ? add(slot, grad) : grad; }

void accumulate_into_leaf(AutogradMeta& meta, const Tensor& grad_in) {
  const Tensor grad = apply_hooks(meta.hooks, grad_in);
  if (meta.grad) {
    meta.grad = add(Tensor(meta.grad), grad).impl();
  } else {
    // Own the buffer: the incoming gradient may alias a tensor the caller still uses.
    meta.grad = grad.clone().impl();
  }
}

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
    accumulate_into_leaf(*root.autograd_meta(), seed);
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
    std::vector<Tensor> input_grads = node->backward(grad, needs);
    SPARSECAP_CHECK(input_grads.size() == node->edges.size(), "backward of ", node->name, " returned ",
                    input_grads.size(), " gradients for ", node->edges.size(), " inputs");
    for (size_t i = 0; i < input_grads.size(); ++i) {
      const Edge& edge = node->edges[i];
      if (!edge.active() || !input_grads[i].defined()) continue;
      if (edge.node)
        accumulate(grads[edge.node.get()], input_grads[i]);
      else
        accumulate_into_leaf(*edge.leaf, input_grads[i]);
    }
  }
}

}  // namespace sparsecap
