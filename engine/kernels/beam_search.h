#pragma once
// One step of batched beam search for one image, written once for the CPU loop and the CUDA kernel
// (one thread per image there): the bookkeeping models/decoding.cpp keeps on the device, so that a
// GPU decode copies back only the finished captions.
//
// Layout: every image owns `beam` consecutive rows of the decoder's state (row image * beam + slot).
// A slot holds a live hypothesis when its score is finite; the live ones fill slots 0, 1, .. in rank
// order, so at step t every live hypothesis has exactly t words (history [images, beam, max_words]).
// The step reads each row's `k` best next tokens (top_k of its log-probabilities, best first, ties
// to the lower token) and, as the host search does (models/decoding.cpp, ImageBeam::advance):
//   - ranks the candidates score(parent) + log p(token) by score, then parent slot, then token;
//   - of the 2 * beam best, an EOS candidate among the first `beam` becomes the image's finished
//     caption when it beats the one it has (ties keep the earlier), and the first `beam` non-EOS
//     ones become the next live hypotheses (none after the last step);
//   - the image is done after the last step, when nothing stays live, or when its finished caption
//     already scores at least its best live hypothesis (scores only fall). A done image without a
//     finished caption keeps its best live hypothesis as the unfinished result.
// It writes, per row, the row of the old state each slot continues (`parents`, for select_rows)
// and the token the slot feeds next; rows of empty slots and of done images continue a valid row
// of their own image and feed EOS, so the decoder's next step stays well defined for them.
#include <cstdint>

#include "engine/kernels/hd.h"

namespace sparsecap::kernels {

struct BeamStepShape {
  int64_t beam = 1;       // slots per image
  int64_t k = 1;          // candidates per row (min(2 * beam, vocabulary))
  int64_t max_words = 0;  // history capacity per slot (>= 1)
  int64_t eos = 0;
  int64_t step = 0;        // words every live hypothesis holds now
  bool last_step = false;  // step == max_words: nothing may grow further
};

// Per image: `beam` slots unless noted. Scores are sums of log-probabilities in double.
template <typename T>
struct BeamStepArrays {
  const T* top_values = nullptr;        // [images * beam, k]
  const int64_t* top_tokens = nullptr;  // [images * beam, k]
  const double* scores = nullptr;       // [images, beam]; not finite: empty slot
  double* next_scores = nullptr;        // [images, beam]
  const int64_t* history = nullptr;     // [images, beam, max_words]
  int64_t* next_history = nullptr;      // [images, beam, max_words]
  int64_t* parents = nullptr;           // [images * beam]: rows of the old state
  int64_t* tokens = nullptr;            // [images * beam]: each row's next input token
  uint8_t* done = nullptr;              // [images]
  uint8_t* finished = nullptr;          // [images]: the result ended with EOS
  double* result_scores = nullptr;      // [images]
  int64_t* result_words = nullptr;      // [images, max_words]
  int64_t* result_lengths = nullptr;    // [images]
};

namespace beam_detail {

HD bool finite(double x) { return x == x && x - x == 0.0; }  // false for NaN and +-inf
HD double negative_infinity() { return -__builtin_huge_val(); }

struct Candidate {
  double score;
  int64_t parent;  // slot
  int64_t token;
};

HD bool ranks_before(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.parent != b.parent) return a.parent < b.parent;
  return a.token < b.token;
}

HD void copy_words(const int64_t* from, int64_t* to, int64_t count) {
  for (int64_t i = 0; i < count; ++i) to[i] = from[i];
}

// The best candidate of `image` that ranks after `previous` (the first when `has_previous` is
// false); false when none is left. Rescanning per rank keeps no candidate list: at most 2 * beam
// scans of beam * k candidates.
template <typename T>
HD bool next_candidate(const BeamStepArrays<T>& a, const BeamStepShape& s, int64_t image, bool has_previous,
                       const Candidate& previous, Candidate& best) {
  bool found = false;
  for (int64_t parent = 0; parent < s.beam; ++parent) {
    const double base = a.scores[image * s.beam + parent];
    if (!finite(base)) continue;
    const int64_t row = image * s.beam + parent;
    for (int64_t column = 0; column < s.k; ++column) {
      const Candidate c{base + static_cast<double>(a.top_values[row * s.k + column]), parent,
                        a.top_tokens[row * s.k + column]};
      if (!finite(c.score)) continue;
      if (has_previous && !ranks_before(previous, c)) continue;
      if (!found || ranks_before(c, best)) {
        best = c;
        found = true;
      }
    }
  }
  return found;
}

// Parents and tokens of slots that continue nothing: a valid row of the image, fed EOS.
template <typename T>
HD void idle_slots(const BeamStepArrays<T>& a, const BeamStepShape& s, int64_t image, int64_t from_slot) {
  for (int64_t slot = from_slot; slot < s.beam; ++slot) {
    const int64_t row = image * s.beam + slot;
    a.parents[row] = image * s.beam;
    a.tokens[row] = s.eos;
    a.next_scores[row] = negative_infinity();
  }
}

}  // namespace beam_detail

template <typename T>
HD void beam_search_step(const BeamStepArrays<T>& a, const BeamStepShape& s, int64_t image) {
  using beam_detail::Candidate;
  const int64_t first_row = image * s.beam;
  if (a.done[image]) {
    beam_detail::idle_slots(a, s, image, 0);
    return;
  }
  const int64_t* history = a.history + first_row * s.max_words;
  int64_t live = 0;
  Candidate previous{0, 0, 0}, candidate{0, 0, 0};
  bool has_previous = false;
  for (int64_t rank = 0; rank < 2 * s.beam; ++rank) {
    if (!beam_detail::next_candidate(a, s, image, has_previous, previous, candidate)) break;
    previous = candidate;
    has_previous = true;
    const int64_t* words = history + candidate.parent * s.max_words;
    if (candidate.token == s.eos) {
      const bool better = !a.finished[image] || candidate.score > a.result_scores[image];
      if (rank < s.beam && better) {
        a.finished[image] = 1;
        a.result_scores[image] = candidate.score;
        a.result_lengths[image] = s.step;
        beam_detail::copy_words(words, a.result_words + image * s.max_words, s.step);
      }
    } else if (!s.last_step && live < s.beam) {
      const int64_t row = first_row + live;
      a.next_scores[row] = candidate.score;
      a.parents[row] = first_row + candidate.parent;
      a.tokens[row] = candidate.token;
      int64_t* next_words = a.next_history + row * s.max_words;
      beam_detail::copy_words(words, next_words, s.step);
      next_words[s.step] = candidate.token;
      ++live;
    }
  }
  beam_detail::idle_slots(a, s, image, live);
  if (live == 0) {
    // After the last step (or with nothing left to extend) the live hypotheses stay as they are:
    // the best of them is the result unless a caption finished.
    a.done[image] = 1;
    if (!a.finished[image]) {
      a.result_scores[image] = a.scores[first_row];
      a.result_lengths[image] = s.step;
      beam_detail::copy_words(history, a.result_words + image * s.max_words, s.step);
    }
    return;
  }
  // Scores only fall: no live hypothesis can overtake a finished caption that is already better.
  if (a.finished[image] && a.result_scores[image] >= a.next_scores[first_row]) a.done[image] = 1;
}

}  // namespace sparsecap::kernels
