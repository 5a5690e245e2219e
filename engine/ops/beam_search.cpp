// The device-side bookkeeping of batched beam search: its buffers and one step over all images.
#include <limits>
#include <vector>

#include "engine/ops/op_helpers.h"

namespace sparsecap {

using namespace ops_detail;

BeamSearchBuffers BeamSearchBuffers::start(int64_t images, int64_t beam, int64_t max_words, int64_t bos,
                                           Device device) {
  SPARSECAP_CHECK(images >= 0 && beam >= 1 && max_words >= 1, "beam search buffers: images ", images, ", beam ",
                  beam, ", max_words ", max_words);
  BeamSearchBuffers b;
  b.images = images;
  b.beam = beam;
  b.max_words = max_words;
  std::vector<double> scores(static_cast<size_t>(images * beam), -std::numeric_limits<double>::infinity());
  for (int64_t image = 0; image < images; ++image) scores[static_cast<size_t>(image * beam)] = 0.0;
  b.scores = from_vector(scores, {images, beam}).to(device);
  b.next_scores = Tensor::empty({images, beam}, DType::F64, device);
  b.history = zeros({images, beam, max_words}, DType::I64, device);
  b.next_history = zeros({images, beam, max_words}, DType::I64, device);
  b.parents = Tensor::empty({images * beam}, DType::I64, device);
  b.tokens = full({images * beam}, static_cast<double>(bos), DType::I64, device);
  b.done = zeros({images}, DType::U8, device);
  b.finished = zeros({images}, DType::U8, device);
  b.result_scores = zeros({images}, DType::F64, device);
  b.result_words = zeros({images, max_words}, DType::I64, device);
  b.result_lengths = zeros({images}, DType::I64, device);
  return b;
}

void BeamSearchBuffers::swap_steps() {
  std::swap(scores, next_scores);
  std::swap(history, next_history);
}

void beam_search_step(BeamSearchBuffers& buffers, const Tensor& top_values, const Tensor& top_tokens,
                      const kernels::BeamStepShape& shape) {
  const int64_t rows = buffers.images * buffers.beam;
  SPARSECAP_CHECK(shape.beam == buffers.beam && shape.max_words == buffers.max_words,
                  "beam_search_step: shape (beam ", shape.beam, ", max_words ", shape.max_words,
                  ") does not match the buffers (", buffers.beam, ", ", buffers.max_words, ")");
  SPARSECAP_CHECK(shape.step >= 0 && shape.step <= shape.max_words && (shape.step < shape.max_words || shape.last_step),
                  "beam_search_step: step ", shape.step, " with room for ", shape.max_words, " words");
  check_floating(top_values, "beam_search_step");
  check_shape(top_values, {rows, shape.k}, "beam_search_step top values");
  check_shape(top_tokens, {rows, shape.k}, "beam_search_step top tokens");
  SPARSECAP_CHECK(top_tokens.dtype() == DType::I64, "beam_search_step: tokens must be int64");
  SPARSECAP_CHECK(top_values.device() == buffers.scores.device() && top_tokens.device() == buffers.scores.device(),
                  "beam_search_step: top_k on ", top_values.device().str(), ", buffers on ",
                  buffers.scores.device().str());
  backend_of(top_values).beam_search_step(buffers, top_values, top_tokens, shape);
  buffers.swap_steps();
}

}  // namespace sparsecap
