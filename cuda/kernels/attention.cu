// Fused additive (Bahdanau) attention scores: what the default composition of engine/backend.cpp
// does in three or four launches forward and six or seven backward, through a [rows, positions,
// width] temporary, here in one launch forward and two backward, reading the keys once each way
// and recomputing the tanh. The arithmetic is the CPU's, from engine/kernels/attention.h; only the
// indexing and the order of the sums live here.
#include "cuda/kernels/attention.h"
#include "cuda/kernels/block_reduce.cuh"
#include "cuda/kernels/kernels.h"
#include "cuda/kernels/launch.cuh"
#include "engine/kernels/attention.h"

namespace sparsecap::cuda::launchers {

namespace {

constexpr int kWarpsPerBlock = kBlockThreads / 32;

__device__ __forceinline__ int64_t thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t thread_count() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// A warp per score: the lanes split the width (consecutive lanes read consecutive keys) and a
// butterfly sum adds their terms. Widths are a few hundred, so a warp per score keeps every lane
// busy where a block per score would leave most of it idle.
__global__ void additive_attention_kernel(const float* keys, const float* query, const float* weight,
                                          const float* bias, float* scores, int64_t rows, int64_t positions,
                                          int64_t width) {
  const sparsecap::kernels::AdditiveScoreTerm<float> term{};
  const unsigned lane = threadIdx.x & 31u;
  const int64_t first_warp = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  const int64_t warp_count = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  const float bias_value = bias ? *bias : 0.0f;
  // Every lane of a warp takes the same scores, so warp_sum sees all 32 lanes.
  for (int64_t score = first_warp; score < rows * positions; score += warp_count) {
    const float* k = keys + score * width;
    const float* q = query + (score / positions) * width;
    float total = 0.0f;
    for (int64_t a = lane; a < width; a += 32) total += term(k[a], q[a], weight[a]);
    total = warp_sum(total);
    if (lane == 0) scores[score] = bias_value + total;
  }
}

// A thread per (row, unit): consecutive threads take consecutive units, so each position's keys
// are read and their gradient written coalesced. Walking the positions in order sums grad_query
// in the CPU loop's order (the same bits) and leaves one weight-gradient partial per row.
__global__ void additive_attention_backward_kernel(const float* keys, const float* query, const float* weight,
                                                   const float* grad_scores, float* grad_keys, bool add_to_grad_keys,
                                                   float* grad_query, float* weight_partials, int64_t rows,
                                                   int64_t positions, int64_t width) {
  const sparsecap::kernels::AdditiveScoreTermGrad<float> term_grad{};
  for (int64_t i = thread_index(); i < rows * width; i += thread_count()) {
    const int64_t n = i / width, a = i % width;
    const float q = query[i], w = weight[a];
    float grad_q = 0.0f, grad_w = 0.0f;
    for (int64_t p = 0; p < positions; ++p) {
      const int64_t row = n * positions + p, at = row * width + a;
      float grad_energy, grad_weight_term;
      term_grad(keys[at], q, w, grad_scores[row], grad_energy, grad_weight_term);
      grad_keys[at] = add_to_grad_keys ? grad_keys[at] + grad_energy : grad_energy;
      grad_q += grad_energy;
      grad_w += grad_weight_term;
    }
    grad_query[i] = grad_q;
    weight_partials[i] = grad_w;
  }
}

}  // namespace

void additive_attention(const float* keys, const float* query, const float* weight, const float* bias, float* scores,
                        int64_t rows, int64_t positions, int64_t width, cudaStream_t stream) {
  if (rows * positions == 0) return;
  const int64_t blocks = (rows * positions + kWarpsPerBlock - 1) / kWarpsPerBlock;
  launch(additive_attention_kernel, static_cast<unsigned>(std::min(blocks, kMaxGridBlocks)), kBlockThreads, 0, stream,
         keys, query, weight, bias, scores, rows, positions, width);
}

void additive_attention_backward(const float* keys, const float* query, const float* weight,
                                 const float* grad_scores, float* grad_keys, bool add_to_grad_keys, float* grad_query,
                                 float* grad_weight, float* weight_partials, int64_t rows, int64_t positions,
                                 int64_t width, cudaStream_t stream) {
  if (width == 0) return;
  if (rows > 0)
    launch(additive_attention_backward_kernel, grid_for(rows * width), kBlockThreads, 0, stream, keys, query, weight,
           grad_scores, grad_keys, add_to_grad_keys, grad_query, weight_partials, rows, positions, width);
  // The per-row partials summed over the rows in double, in a fixed order (the column sums of
  // rowwise.cu, which also write zeros when there are no rows): a second, small launch instead
  // of atomics, so the weight's gradient is the same every run.
  sum_along(weight_partials, grad_weight, 1, rows, width, stream);
}

}  // namespace sparsecap::cuda::launchers
