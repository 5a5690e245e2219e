#pragma once
// Dynamic tape. Each op that sees an input requiring gradients records a Node holding its edges
// (the producers of its inputs, or the leaves' gradient slots) and a backward closure written with
// engine ops. Tensor::backward() sorts the graph once, iteratively (unrolled LSTMs and beam
// search make graphs too deep for recursion), and runs each Node once.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace sparsecap {

// Where a gradient flows: into another node's output gradient, or into a leaf's .grad.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<AutogradMeta> leaf;
  bool active() const { return node != nullptr || leaf != nullptr; }
};

// Which inputs need a gradient, so a backward can skip work for the others.
using NeedsGrad = std::vector<bool>;
// Gradients with respect to each input (undefined Tensor where not needed); every gradient has
// its input's shape.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output, const NeedsGrad& needs)>;

struct Node {
  std::string name;
  std::vector<Edge> edges;  // one per input
  BackwardFn backward;
  Shape output_shape;
  DType output_dtype = DType::F32;
  Device output_device;
  std::vector<std::function<Tensor(const Tensor&)>> hooks;  // on the output's gradient

  // Releases the producers iteratively: a long chain (an unrolled LSTM, 100k ops) would otherwise
  // destroy node by node recursively and overflow the stack.
  ~Node();
};

// Gradient mode: on by default; off inside a NoGradGuard (inference, optimizer steps, backward).
bool grad_mode_enabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when recording is on and at least one input requires a gradient.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attach a Node producing `output` from `inputs` if any input requires a gradient. The closure
// must capture only what the backward needs, and saved outputs detached (no reference cycles).
void record(Tensor& output, const char* name, const std::vector<Tensor>& inputs, BackwardFn backward);

// Inside a backward closure: the running sum of the gradient of the node's input `input`, when the
// closure may add its gradient for that input straight into it (a GEMM with beta = 1, a kernel
// that accumulates) instead of returning a new tensor for autograd to add. Defined only when
// nothing else holds that sum, so adding in place changes no tensor anyone can see, and no hook
// has to see the input's gradient first. A closure that adds into it returns an undefined
// gradient for that input. Undefined outside a backward.
Tensor gradient_accumulator(size_t input);

// Run reverse mode from `root` with the given output gradient (ones for a scalar when undefined).
void run_backward(const Tensor& root, const Tensor& grad_output);

}  // namespace sparsecap
