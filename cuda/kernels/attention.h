#pragma once
// Host entry points of the fused additive-attention kernels (cuda/kernels/attention.cu): the
// scores and their backward over the per-term functors the CPU backend loops over
// (engine/kernels/attention.h). Layouts as engine/backend.h describes them.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace sparsecap::cuda::launchers {

// scores [rows, positions] = bias + sum over width of weight * tanh(keys + query): a warp per
// score. `bias` (one element, on the device) may be null.
void additive_attention(const float* keys, const float* query, const float* weight, const float* bias, float* scores,
                        int64_t rows, int64_t positions, int64_t width, cudaStream_t stream);

// grad_keys [rows, positions, width] written (or added to when add_to_grad_keys), grad_query
// [rows, width] and grad_weight [width] written, from grad_scores [rows, positions]. A thread
// per (row, unit) walks the positions in order, so grad_query needs no second pass; the weight's
// per-row sums go to `weight_partials` [rows, width] (scratch) and sum_along adds them over the
// rows in a fixed order. No atomics: every run gives the same bits.
void additive_attention_backward(const float* keys, const float* query, const float* weight,
                                 const float* grad_scores, float* grad_keys, bool add_to_grad_keys, float* grad_query,
                                 float* grad_weight, float* weight_partials, int64_t rows, int64_t positions,
                                 int64_t width, cudaStream_t stream);

}  // namespace sparsecap::cuda::launchers
