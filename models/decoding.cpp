#include "models/decoding.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace sparsecap::models {

namespace {

// The `k` most likely next tokens of every row of one decode step, best first (ties to the lower
// token), with their log-probabilities. They are chosen on the device of the log-probabilities:
// only rows x k numbers come to the host, not rows x vocabulary.
struct StepTopK {
  int64_t k = 0;
  std::vector<double> log_probabilities;  // [rows, k]
  std::vector<int64_t> tokens;            // [rows, k]
};

StepTopK step_top_k(StepwiseCaptioner& captioner, DecodingState& state, const std::vector<int64_t>& tokens, int64_t k) {
  const int64_t rows = static_cast<int64_t>(tokens.size());
  const Tensor log_probabilities = captioner.decode_step(state, from_vector(tokens, {rows}));
  check_shape(log_probabilities, {rows, captioner.vocabulary_size()}, "decode_step log-probabilities");
  const auto [values, indices] = top_k(log_probabilities, std::min(k, captioner.vocabulary_size()));
  return {values.size(1), values.to_vector<double>(), indices.to_vector<int64_t>()};
}

std::unique_ptr<DecodingState> encode_checked(StepwiseCaptioner& captioner, const CaptionerInputs& inputs) {
  std::unique_ptr<DecodingState> state = captioner.encode(inputs);
  SPARSECAP_CHECK(state != nullptr, "encode returned no decoding state");
  return state;
}

void check_max_words(int64_t max_words) {
  SPARSECAP_CHECK(max_words >= 0, "max_words must be >= 0, got ", max_words);
}

void check_decoding_options(const DecodingOptions& options) {
  SPARSECAP_CHECK(options.beam_size >= 1, "beam_size must be >= 1, got ", options.beam_size);
  check_max_words(options.max_words);
}

}  // namespace

std::vector<DecodedCaption> greedy_decode(StepwiseCaptioner& captioner, const CaptionerInputs& inputs, int64_t max_words) {
  check_max_words(max_words);
  if (!captioner.decoding_device().is_cpu())
    return beam_search_on_device(captioner, inputs, DecodingOptions{.beam_size = 1, .max_words = max_words});
  NoGradGuard no_grad;
  const SpecialTokens special = captioner.special_tokens();
  std::unique_ptr<DecodingState> state = encode_checked(captioner, inputs);
  std::vector<DecodedCaption> captions(static_cast<size_t>(state->rows()));
  // active[r]: the image decoded by state row r; rows of finished images are dropped.
  std::vector<int64_t> active(captions.size());
  for (size_t i = 0; i < active.size(); ++i) active[i] = static_cast<int64_t>(i);

  for (int64_t step = 0; step <= max_words && !active.empty(); ++step) {
    std::vector<int64_t> tokens;
    for (int64_t image : active) {
      const std::vector<int64_t>& words = captions[static_cast<size_t>(image)].tokens;
      tokens.push_back(words.empty() ? special.bos : words.back());
    }
    const StepTopK top = step_top_k(captioner, *state, tokens, 1);  // the first of tied maxima
    std::vector<int64_t> still_active, keep_rows;
    for (size_t row = 0; row < active.size(); ++row) {
      const int64_t best = top.tokens[row];
      const double score = top.log_probabilities[row];
      DecodedCaption& caption = captions[static_cast<size_t>(active[row])];
      if (best == special.eos) {
        caption.log_probability += score;
        caption.finished = true;
      } else if (step < max_words) {
        caption.tokens.push_back(best);
        caption.log_probability += score;
        still_active.push_back(active[row]);
        keep_rows.push_back(static_cast<int64_t>(row));
      }
    }
    if (!keep_rows.empty() && keep_rows.size() != active.size())
      state->select_rows(from_vector(keep_rows, {static_cast<int64_t>(keep_rows.size())}));
    active = std::move(still_active);
  }
  return captions;
}

namespace {

struct Hypothesis {
  std::vector<int64_t> tokens;
  double score = 0;
};

struct Candidate {
  double score;
  int64_t parent;  // index into the image's live hypotheses
  int64_t token;
};

// Higher score first; ties by parent then token, so the result does not depend on sort internals
// (and beam size 1 picks the first maximal token, as greedy decoding does).
bool ranks_before(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.parent != b.parent) return a.parent < b.parent;
  return a.token < b.token;
}

class ImageBeam {
 public:
  ImageBeam() : live_{Hypothesis{}} {}

  bool done() const { return done_; }
  const std::vector<Hypothesis>& live() const { return live_; }

  // One step from the best tokens of this image's live rows (`top`, rows first_row onwards, at
  // least 2 * beam_size per row or the whole vocabulary). Returns the parents (indices into the
  // previous live hypotheses) of the new live ones.
  std::vector<int64_t> advance(const StepTopK& top, size_t first_row, int64_t beam_size, int64_t eos, bool last_step) {
    std::vector<Candidate> candidates;
    candidates.reserve(live_.size() * static_cast<size_t>(top.k));
    for (size_t parent = 0; parent < live_.size(); ++parent)
      for (int64_t j = 0; j < top.k; ++j) {
        const size_t at = (first_row + parent) * static_cast<size_t>(top.k) + static_cast<size_t>(j);
        const double score = live_[parent].score + top.log_probabilities[at];
        if (std::isfinite(score)) candidates.push_back({score, static_cast<int64_t>(parent), top.tokens[at]});
      }
    // Each parent has one EOS candidate, so the beam_size best non-EOS candidates are among the
    // 2 * beam_size best of all; and no candidate outside its parent's 2 * beam_size best tokens
    // can be among them, so those are all a step needs (ties rank by parent, then token, on both
    // sides).
    const size_t ranked = std::min(candidates.size(), static_cast<size_t>(2 * beam_size));
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(ranked), candidates.end(),
                      ranks_before);
    std::vector<Hypothesis> next;
    std::vector<int64_t> parents;
    for (size_t rank = 0; rank < ranked; ++rank) {
      const Candidate& candidate = candidates[rank];
      if (candidate.token == eos) {
        if (rank < static_cast<size_t>(beam_size)) offer_finished(live_[static_cast<size_t>(candidate.parent)], candidate.score);
      } else if (!last_step && next.size() < static_cast<size_t>(beam_size)) {
        Hypothesis extended = live_[static_cast<size_t>(candidate.parent)];
        extended.tokens.push_back(candidate.token);
        extended.score = candidate.score;
        next.push_back(std::move(extended));
        parents.push_back(candidate.parent);
      }
    }
    // After the last step the live hypotheses stay as they are: unfinished fallbacks.
    if (last_step || next.empty()) {
      done_ = true;
      return {};
    }
    live_ = std::move(next);
    // Scores only fall: no live hypothesis can overtake a finished one that is already better.
    done_ = has_finished_ && finished_.log_probability >= live_.front().score;
    return done_ ? std::vector<int64_t>{} : parents;
  }

  DecodedCaption result() const {
    if (has_finished_ || live_.empty()) return finished_;
    return DecodedCaption{live_.front().tokens, live_.front().score, false};
  }

 private:
  void offer_finished(const Hypothesis& hypothesis, double score) {
    if (has_finished_ && finished_.log_probability >= score) return;  // ties keep the earlier one
    finished_ = DecodedCaption{hypothesis.tokens, score, true};
    has_finished_ = true;
  }

  std::vector<Hypothesis> live_;
  DecodedCaption finished_;
  bool has_finished_ = false;
  bool done_ = false;
};

}  // namespace

std::vector<DecodedCaption> beam_search(StepwiseCaptioner& captioner, const CaptionerInputs& inputs,
                                        const DecodingOptions& options) {
  return captioner.decoding_device().is_cpu() ? beam_search_on_host(captioner, inputs, options)
                                              : beam_search_on_device(captioner, inputs, options);
}

std::vector<DecodedCaption> beam_search_on_host(StepwiseCaptioner& captioner, const CaptionerInputs& inputs,
                                                const DecodingOptions& options) {
  check_decoding_options(options);
  NoGradGuard no_grad;
  const SpecialTokens special = captioner.special_tokens();
  std::unique_ptr<DecodingState> state = encode_checked(captioner, inputs);
  std::vector<ImageBeam> beams(static_cast<size_t>(state->rows()));

  // State rows: the live hypotheses of every image not done, image by image (one row each at first).
  for (int64_t step = 0; step <= options.max_words; ++step) {
    std::vector<int64_t> tokens;
    for (const ImageBeam& beam : beams) {
      if (beam.done()) continue;
      for (const Hypothesis& hypothesis : beam.live())
        tokens.push_back(hypothesis.tokens.empty() ? special.bos : hypothesis.tokens.back());
    }
    if (tokens.empty()) break;
    const StepTopK top = step_top_k(captioner, *state, tokens, 2 * options.beam_size);
    std::vector<int64_t> next_rows;
    int64_t first_row = 0;
    for (ImageBeam& beam : beams) {
      if (beam.done()) continue;
      const int64_t live = static_cast<int64_t>(beam.live().size());
      const std::vector<int64_t> parents = beam.advance(top, static_cast<size_t>(first_row), options.beam_size,
                                                        special.eos, step == options.max_words);
      for (int64_t parent : parents) next_rows.push_back(first_row + parent);
      first_row += live;
    }
    if (next_rows.empty()) break;
    state->select_rows(from_vector(next_rows, {static_cast<int64_t>(next_rows.size())}));
  }

  std::vector<DecodedCaption> results;
  results.reserve(beams.size());
  for (const ImageBeam& beam : beams) results.push_back(beam.result());
  return results;
}

namespace {

// Every image's `beam` rows of the state, from the one row encode() gives it: row image * beam +
// slot, slot 0 live and the others empty until the first step fills them.
void widen_to_beams(DecodingState& state, int64_t images, int64_t beam) {
  if (beam == 1) return;
  std::vector<int64_t> rows;
  rows.reserve(static_cast<size_t>(images * beam));
  for (int64_t image = 0; image < images; ++image)
    for (int64_t slot = 0; slot < beam; ++slot) rows.push_back(image);
  state.select_rows(from_vector(rows, {images * beam}));
}

bool all_done(const BeamSearchBuffers& buffers) {
  const std::vector<uint8_t> done = buffers.done.to_vector<uint8_t>();
  return std::all_of(done.begin(), done.end(), [](uint8_t d) { return d != 0; });
}

// The one copy back of a device search: every image's result.
std::vector<DecodedCaption> read_results(const BeamSearchBuffers& buffers) {
  const std::vector<int64_t> words = buffers.result_words.to_vector<int64_t>();
  const std::vector<int64_t> lengths = buffers.result_lengths.to_vector<int64_t>();
  const std::vector<double> scores = buffers.result_scores.to_vector<double>();
  const std::vector<uint8_t> finished = buffers.finished.to_vector<uint8_t>();
  std::vector<DecodedCaption> results(static_cast<size_t>(buffers.images));
  for (size_t image = 0; image < results.size(); ++image) {
    const auto first = words.begin() + static_cast<std::ptrdiff_t>(image * static_cast<size_t>(buffers.max_words));
    results[image].tokens.assign(first, first + lengths[image]);
    results[image].log_probability = scores[image];
    results[image].finished = finished[image] != 0;
  }
  return results;
}

}  // namespace

std::vector<DecodedCaption> beam_search_on_device(StepwiseCaptioner& captioner, const CaptionerInputs& inputs,
                                                  const DecodingOptions& options) {
  check_decoding_options(options);
  NoGradGuard no_grad;
  const SpecialTokens special = captioner.special_tokens();
  std::unique_ptr<DecodingState> state = encode_checked(captioner, inputs);
  const int64_t images = state->rows(), beam = options.beam_size;
  if (images == 0) return {};
  widen_to_beams(*state, images, beam);
  BeamSearchBuffers buffers = BeamSearchBuffers::start(images, beam, std::max<int64_t>(options.max_words, 1),
                                                       special.bos, captioner.decoding_device());
  const int64_t vocabulary = captioner.vocabulary_size();
  const int64_t k = std::min(2 * beam, vocabulary);
  // The tokens and parents the step kernel writes are in range by construction: the lookups they
  // drive skip the CUDA backend's index check, which would wait for the device every step.
  IndicesCheckedOnHost in_range;
  for (int64_t step = 0; step <= options.max_words; ++step) {
    const Tensor log_probabilities = captioner.decode_step(*state, buffers.tokens);
    check_shape(log_probabilities, {images * beam, vocabulary}, "decode_step log-probabilities");
    const auto [values, tokens] = top_k(log_probabilities, k);
    const bool last_step = step == options.max_words;
    beam_search_step(buffers, values, tokens,
                     kernels::BeamStepShape{.beam = beam, .k = k, .max_words = buffers.max_words,
                                            .eos = special.eos, .step = step, .last_step = last_step});
    if (last_step || ((step + 1) % kDoneCheckSteps == 0 && all_done(buffers))) break;
    state->select_rows(buffers.parents);
  }
  return read_results(buffers);
}

}  // namespace sparsecap::models
