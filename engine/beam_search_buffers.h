#pragma once
// The tensors of a batched beam search kept on the decoder's device (engine/kernels/beam_search.h
// says what each holds), so that a GPU decode reads back only its finished captions.
#include <cstdint>

#include "engine/kernels/beam_search.h"
#include "engine/tensor.h"

namespace sparsecap {

struct BeamSearchBuffers {
  int64_t images = 0, beam = 0, max_words = 0;
  Tensor scores, next_scores;     // F64 [images, beam]
  Tensor history, next_history;   // I64 [images, beam, max_words]
  Tensor parents;                 // I64 [images * beam]
  Tensor tokens;                  // I64 [images * beam]
  Tensor done, finished;          // U8 [images]
  Tensor result_scores;           // F64 [images]
  Tensor result_words;            // I64 [images, max_words]
  Tensor result_lengths;          // I64 [images]

  // Before the first step: slot 0 of every image live with score 0 and no words, fed `bos`.
  static BeamSearchBuffers start(int64_t images, int64_t beam, int64_t max_words, int64_t bos, Device device);
  // After a step: what it wrote becomes what the next one reads.
  void swap_steps();

  // The kernel's view of these buffers and of one step's top_k (values of type T), for the
  // backends; the pointers are of the buffers' device.
  template <typename T>
  kernels::BeamStepArrays<T> arrays(const Tensor& top_values, const Tensor& top_tokens) const {
    kernels::BeamStepArrays<T> a;
    a.top_values = top_values.data<T>();
    a.top_tokens = top_tokens.data<int64_t>();
    a.scores = scores.data<double>();
    a.next_scores = next_scores.data<double>();
    a.history = history.data<int64_t>();
    a.next_history = next_history.data<int64_t>();
    a.parents = parents.data<int64_t>();
    a.tokens = tokens.data<int64_t>();
    a.done = done.data<uint8_t>();
    a.finished = finished.data<uint8_t>();
    a.result_scores = result_scores.data<double>();
    a.result_words = result_words.data<int64_t>();
    a.result_lengths = result_lengths.data<int64_t>();
    return a;
  }
};

}  // namespace sparsecap
