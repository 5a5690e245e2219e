#pragma once
// Checks every captioner's tests run the same way: decoding against teacher forcing, beam 1 against
// greedy, the sparse export round trip, which parameters Supermask gates, and small helpers.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/rng.h"
#include "engine/tensor.h"
#include "models/captioner.h"

namespace sparsecap::models::captioner_checks {

double max_abs_difference(const Tensor& a, const Tensor& b);

// Two images x 2 captions of length 6 in the default special tokens (PAD 0, BOS 2, EOS 3):
// BOS w.. EOS PAD..., one caption filling the length, one empty.
Tensor two_images_two_captions();

// `inputs` (float64) with noise of scale 10 added to the padded regions' features only: a model
// that masks its padding computes the same from both.
CaptionerInputs with_noise_in_padded_regions(const CaptionerInputs& inputs, Generator& generator);

// Random boxes [B, R, 4] inside [0, 1] with x0 < x1 and y0 < y1, in `dtype`.
Tensor random_boxes(int64_t images, int64_t regions, Generator& generator, DType dtype);

// Region features [n, D] with their boxes [n, 4] appended as x0, y0, x1, y1 and the area, written
// with primitive ops (the by-hand twin of models::append_region_box_features).
// With `frequencies`, each box's sinusoidal code follows, written element by element.
Tensor regions_with_boxes_by_hand(const Tensor& regions, const Tensor& boxes, int64_t frequencies = 0);

// Every parameter's gradient by name (zeros for one that has none).
std::map<std::string, std::vector<double>> parameter_gradients(const nn::Module& model);

// Zeroes about `sparsity` of every weight and embedding, as a finalized pruned model.
void prune_randomly(nn::Module& model, double sparsity, uint64_t seed);

// Step-by-step decoding of `captions` (rows = images * seq_per_img) gives log_softmax of the
// teacher-forced `logits` at every step, within `tolerance`.
void expect_decoding_matches_teacher_forcing(Captioner& model, const CaptionerInputs& inputs, const Tensor& captions,
                                             int64_t seq_per_img, const Tensor& logits, double tolerance);

// Beam search with beam 1 returns greedy decoding's captions and scores.
void expect_beam_one_is_greedy(Captioner& model, const CaptionerInputs& inputs, int64_t max_words);
// Beam search with its bookkeeping on the device (what a GPU runs, here on the model's device)
// gives the host bookkeeping's captions, at beam sizes 1 and 3.
void expect_device_bookkeeping_matches_host(Captioner& model, const CaptionerInputs& inputs, int64_t max_words);

// The parameters SupermaskPruning::begin gates when given model.prunable_parameters(), and the
// names of the model's weights and embeddings (what it should gate).
struct GatedParameters {
  std::vector<std::string> gated, weights_and_embeddings;
};
GatedParameters supermask_gated_parameters(Captioner& model);

// Exports `model` (evaluation mode, already pruned) with the run config whose model section is
// `model_section` ("type" included), loads it through train::load_exported_captioner, and checks
// the loaded model computes `expected_csr_weights` weights through CSR and beam-searches and
// steps like `model` on `inputs`. The loaded model goes to `device`, where `model` and `inputs`
// already are.
void expect_export_round_trip(Captioner& model, const nlohmann::json& model_section, const CaptionerInputs& inputs,
                              int64_t expected_csr_weights, Device device = Device::cpu());

}  // namespace sparsecap::models::captioner_checks
