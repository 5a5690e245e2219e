#pragma once
// Host entry point of the decoding kernel (cuda/kernels/decoding.cu): one step of batched beam
// search, one thread per image over the functor the CPU backend loops over
// (engine/kernels/beam_search.h).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/kernels/beam_search.h"

namespace sparsecap::cuda::launchers {

void beam_search_step(const sparsecap::kernels::BeamStepArrays<float>& arrays,
                      const sparsecap::kernels::BeamStepShape& shape, int64_t images, cudaStream_t stream);

}  // namespace sparsecap::cuda::launchers
