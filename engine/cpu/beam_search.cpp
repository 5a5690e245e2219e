// One step of batched beam search on the CPU: the shared per-image functor of
// engine/kernels/beam_search.h over every image (a few hundred comparisons each, so one thread).
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/kernels/beam_search.h"

namespace sparsecap::cpu {

void CpuBackend::beam_search_step(BeamSearchBuffers& buffers, const Tensor& top_values, const Tensor& top_tokens,
                                  const kernels::BeamStepShape& shape) {
  dispatch_floating(top_values.dtype(), "beam_search_step", [&](auto tag) {
    using T = decltype(tag);
    const kernels::BeamStepArrays<T> arrays = buffers.arrays<T>(top_values, top_tokens);
    for (int64_t image = 0; image < buffers.images; ++image) kernels::beam_search_step(arrays, shape, image);
  });
}

}  // namespace sparsecap::cpu
