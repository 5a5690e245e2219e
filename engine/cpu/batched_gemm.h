#pragma once
// A batch of float32 products C_i = A_i B_i (+ C_i) as one oneDNN matmul primitive call over
// [batch, m, k] x [batch, k, n], instead of one sgemm call per item: the primitive threads over
// the whole batch at once, which pays for attention's many small products (B * H items of
// T x d_k by d_k x S). Primitives are cached by shape.
#include "engine/backend.h"

namespace sparsecap::cpu {

// Runs shape.batch products (alpha 1, beta 0 or 1); an operand with batch stride 0 is shared by
// every item.
void batched_sgemm(const GemmShape& shape, const float* a, const float* b, float* c);

}  // namespace sparsecap::cpu
