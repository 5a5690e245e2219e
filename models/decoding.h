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
// Where the bookkeeping lives follows the decoder (StepwiseCaptioner::decoding_device):
// - On the CPU the hypotheses are kept on the host, and the rows of finished images and empty
//   beams leave the decoder's state, so no step computes for them.
// - On a GPU everything stays on the device: each step picks every row's 2 x beam best tokens with
//   top_k, and one kernel (beam_search_step, engine/kernels/beam_search.h) ranks the candidates,
//   extends the histories, records finished captions and writes the next tokens and the parent
//   rows the state continues. Every image keeps its `beam` rows to the end (a done image's rows
//   idle), so no step waits for the device; every kDoneCheckSteps steps the search reads the
//   images' done flags (one byte each) to stop early, and at the end it copies back the results.
// Both give the same captions (the tests compare them); greedy decoding on a GPU is the device
// search with beam size 1, which picks the same tokens.
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
  // Keep rows `index` (I64 [M] on the host or the decoder's device, values in [0, rows())) in that
  // order; rows may repeat.
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
  // tokens I64 [rows] on the host or the decoding device (the previous token of every row) ->
  // log-probabilities [rows, V] of the next token, on the decoding device; advances `state`.
  virtual Tensor decode_step(DecodingState& state, const Tensor& tokens) = 0;
  // Where decode_step's log-probabilities live, and so the search's bookkeeping.
  virtual Device decoding_device() const = 0;
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

// The two ways of keeping the bookkeeping, which beam_search chooses between by the decoding
// device; public for the tests that compare them (the device one runs on the CPU too).
std::vector<DecodedCaption> beam_search_on_host(StepwiseCaptioner& captioner, const CaptionerInputs& inputs,
                                                const DecodingOptions& options);
std::vector<DecodedCaption> beam_search_on_device(StepwiseCaptioner& captioner, const CaptionerInputs& inputs,
                                                  const DecodingOptions& options);
// How often (in steps) the device search reads whether every image is done.
constexpr int64_t kDoneCheckSteps = 4;

}  // namespace sparsecap::models
