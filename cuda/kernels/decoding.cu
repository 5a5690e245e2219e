// The decoding kernel: one step of batched beam search, one thread per image. An image's step is
// a few hundred comparisons over its beam x k candidates and a copy of at most beam histories, so
// a thread per image keeps the whole step in one launch without a shared-memory sort.
#include "cuda/kernels/decoding.h"
#include "cuda/kernels/launch.cuh"

namespace sparsecap::cuda::launchers {

namespace {

using sparsecap::kernels::BeamStepArrays;
using sparsecap::kernels::BeamStepShape;

__global__ void beam_search_step_kernel(BeamStepArrays<float> arrays, BeamStepShape shape, int64_t images) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t image = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; image < images; image += stride)
    sparsecap::kernels::beam_search_step(arrays, shape, image);
}

// Small blocks: a batch has tens to hundreds of images, and more blocks spread them over more SMs.
constexpr int kImagesPerBlock = 32;

}  // namespace

void beam_search_step(const BeamStepArrays<float>& arrays, const BeamStepShape& shape, int64_t images,
                      cudaStream_t stream) {
  if (images == 0) return;
  launch(beam_search_step_kernel, grid_for(images, kImagesPerBlock), kImagesPerBlock, 0, stream, arrays, shape,
         images);
}

}  // namespace sparsecap::cuda::launchers
