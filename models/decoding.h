#pragma once
// Greedy and beam-search decoding, batched over images, for any captioner that can encode images
// into a per-row decoding state and advance that state one token at a time. The same code runs
// dense and sparse models: it only sees the StepwiseCaptioner interface.
//
// Conventions: a decoded caption holds its words only (no BOS, no EOS). The search runs at most
// max_words + 1 steps, so a caption has at most max_words words; a hypothesis that has not
// emitted EOS by then ends unfinished. Scores are sums of log-probabilities (EOS included), with
// no length normalisation, as the Soft-Attention reference decodes.
//
// On a GPU the log-probabilities stay there: each step picks every row's best tokens with top_k on
// the device (1 for greedy, 2 x beam for beam search) and copies only those to the host, where the
// hypotheses are kept; a step still waits for the device once, to read them.
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/tensor.h"
#include "models/captioner_inputs.h"

namespace sparsecap::models {

// What a captioner carries from one step to the next, one row per hypothesis. The search only
// reorders rows: to expand images into beams, follow each beam's parent and drop finished ones.
class DecodingState {
 public:
  virtual ~DecodingState() = default;
  virtual int64_t rows() const = 0;
  // Keep rows `index` (I64 [M] on the host, values in [0, rows())) in that order; rows may repeat.
  virtual void select_rows(const Tensor& index) = 0;
};

struct SpecialTokens {
  int64_t pad = 0;
  int64_t bos = 2;
  int64_t eos = 3;
};

// The small interface decoding needs. Put the model in evaluation mode (eval()) before decoding;
// the search runs without recording gradients.
class StepwiseCaptioner {
 public:
  virtual ~StepwiseCaptioner() = default;
  // A batch of B images (pixels or region features, as the model reads them) -> a state with B rows.
  virtual std::unique_ptr<DecodingState> encode(const CaptionerInputs& inputs) = 0;
  // tokens I64 [rows] on the host (the previous token of every row) -> log-probabilities [rows, V]
  // of the next token, on any device; advances `state`.
  virtual Tensor decode_step(DecodingState& state, const Tensor& tokens) = 0;
  virtual int64_t vocabulary_size() const = 0;
  virtual SpecialTokens special_tokens() const = 0;
};

struct DecodedCaption {
  std::vector<int64_t> tokens;  // words only
  double log_probability = 0;   // sum over the emitted tokens, EOS included when finished
  bool finished = false;        // ended with EOS (false: cut at max_words)
};

struct DecodingOptions {
  int64_t beam_size = 3;
  int64_t max_words = 30;
};

// The most likely next token at every step, for each image.
std::vector<DecodedCaption> greedy_decode(StepwiseCaptioner& captioner, const CaptionerInputs& inputs, int64_t max_words);

// Beam search, per image: at every step the beam_size best extensions of the live hypotheses are
// the candidates; those ending in EOS become finished captions, and the beam_size best of the
// others stay alive. An image is done when no live hypothesis can beat its best finished caption
// (scores only fall) or after max_words + 1 steps. Returns the best finished caption, or the best
// unfinished one when none finished. Beam size 1 is greedy decoding.
std::vector<DecodedCaption> beam_search(StepwiseCaptioner& captioner, const CaptionerInputs& inputs,
                                        const DecodingOptions& options = {});

}  // namespace sparsecap::models
