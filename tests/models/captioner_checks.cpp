#include "tests/models/captioner_checks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "tests/data/temporary_directory.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/sparse/csr_file.h"
#include "pruning/supermask.h"
#include "train/exported_model.h"
#include "train/run_config.h"

namespace sparsecap::models::captioner_checks {

double max_abs_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

Tensor two_images_two_captions() {
  constexpr int64_t kPad = 0, kBos = 2, kEos = 3;
  return from_vector<int64_t>({kBos, 4, 5, kEos, kPad, kPad,  //
                               kBos, 6, kEos, kPad, kPad, kPad,  //
                               kBos, 7, 8, 4, 9, kEos,           //
                               kBos, kEos, kPad, kPad, kPad, kPad},
                              {4, 6});
}

CaptionerInputs with_noise_in_padded_regions(const CaptionerInputs& inputs, Generator& generator) {
  const Tensor& features = inputs.region_features;
  const Tensor padding = unsqueeze(sub(full(inputs.region_mask.shape(), 1.0, DType::F64), inputs.region_mask), 2);
  CaptionerInputs noisy = inputs;
  noisy.region_features = add(features, mul(mul_scalar(randn(features.shape(), generator, DType::F64), 10.0), padding));
  return noisy;
}

Tensor random_boxes(int64_t images, int64_t regions, Generator& generator, DType dtype) {
  const Tensor corners = rand({images, regions, 4}, generator, DType::F64);
  // x0, y0 in [0, 0.5), x1, y1 in [0.55, 1).
  const Tensor lower = mul_scalar(narrow(corners, 2, 0, 2), 0.5);
  const Tensor upper = add_scalar(mul_scalar(narrow(corners, 2, 2, 2), 0.45), 0.55);
  return concat({lower, upper}, 2).to(dtype);
}

Tensor regions_with_boxes_by_hand(const Tensor& regions, const Tensor& boxes, int64_t frequencies) {
  const Tensor width = sub(narrow(boxes, 1, 2, 1), narrow(boxes, 1, 0, 1));
  const Tensor height = sub(narrow(boxes, 1, 3, 1), narrow(boxes, 1, 1, 1));
  const Tensor raw = concat({regions, boxes, mul(width, height)}, 1);
  if (frequencies == 0) return raw;
  const int64_t n = boxes.size(0);
  const std::vector<double> b = boxes.to_vector<double>();
  std::vector<double> code;
  for (int64_t r = 0; r < n; ++r) {
    const double* box = b.data() + r * 4;
    const double geometry[4] = {(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]};
    for (const double g : geometry) {
      double scale = M_PI;
      for (int64_t k = 0; k < frequencies; ++k, scale *= 2) {
        code.push_back(std::sin(scale * g));
        code.push_back(std::cos(scale * g));
      }
    }
  }
  return concat({raw, from_vector(code, {n, 8 * frequencies}).to(regions.dtype())}, 1);
}

std::map<std::string, std::vector<double>> parameter_gradients(const nn::Module& model) {
  std::map<std::string, std::vector<double>> gradients;
  for (const auto& [name, parameter] : model.named_parameters())
    gradients[name] = parameter->grad().defined() ? parameter->grad().to_vector<double>()
                                                  : std::vector<double>(static_cast<size_t>(parameter->value().numel()));
  return gradients;
}

void prune_randomly(nn::Module& model, double sparsity, uint64_t seed) {
  NoGradGuard no_grad;
  Generator generator(seed);
  for (const auto& [name, parameter] : model.named_parameters()) {
    if (!nn::is_prunable(parameter->kind())) continue;
    const Tensor keep = bernoulli(parameter->shape(), 1.0 - sparsity, generator, parameter->value().dtype());
    parameter->value().copy_(mul(parameter->value(), keep));
  }
}

void expect_decoding_matches_teacher_forcing(Captioner& model, const CaptionerInputs& inputs, const Tensor& captions,
                                             int64_t seq_per_img, const Tensor& logits, double tolerance) {
  NoGradGuard no_grad;
  const int64_t rows = captions.size(0), length = captions.size(1), vocabulary = logits.size(2);
  std::unique_ptr<DecodingState> state = model.encode(inputs);
  std::vector<int64_t> expand;
  for (int64_t row = 0; row < rows; ++row) expand.push_back(row / seq_per_img);
  state->select_rows(from_vector(expand, {rows}));
  const std::vector<int64_t> tokens = captions.to_vector<int64_t>();
  for (int64_t t = 0; t + 1 < length; ++t) {
    std::vector<int64_t> previous;
    for (int64_t row = 0; row < rows; ++row) previous.push_back(tokens[static_cast<size_t>(row * length + t)]);
    const Tensor log_probabilities = model.decode_step(*state, from_vector(previous, {rows}));
    const Tensor expected = log_softmax(narrow(logits, 1, t, 1).reshape({rows, vocabulary}));
    EXPECT_LT(max_abs_difference(log_probabilities, expected), tolerance) << "step " << t;
  }
}

void expect_beam_one_is_greedy(Captioner& model, const CaptionerInputs& inputs, int64_t max_words) {
  const std::vector<DecodedCaption> greedy = greedy_decode(model, inputs, max_words);
  const std::vector<DecodedCaption> beam = beam_search(model, inputs, DecodingOptions{.beam_size = 1, .max_words = max_words});
  ASSERT_EQ(greedy.size(), beam.size());
  for (size_t i = 0; i < greedy.size(); ++i) {
    EXPECT_EQ(greedy[i].tokens, beam[i].tokens) << "image " << i;
    EXPECT_NEAR(greedy[i].log_probability, beam[i].log_probability, 1e-9) << "image " << i;
    EXPECT_EQ(greedy[i].finished, beam[i].finished) << "image " << i;
  }
}

void expect_device_bookkeeping_matches_host(Captioner& model, const CaptionerInputs& inputs, int64_t max_words) {
  for (const int64_t beam : {1, 3}) {
    const DecodingOptions options{.beam_size = beam, .max_words = max_words};
    const std::vector<DecodedCaption> host = beam_search_on_host(model, inputs, options);
    const std::vector<DecodedCaption> device = beam_search_on_device(model, inputs, options);
    ASSERT_EQ(host.size(), device.size());
    for (size_t i = 0; i < host.size(); ++i) {
      EXPECT_EQ(host[i].tokens, device[i].tokens) << "beam " << beam << ", image " << i;
      // The device search decodes every image's beam rows together: other GEMM shapes.
      EXPECT_NEAR(host[i].log_probability, device[i].log_probability, 1e-4) << "beam " << beam << ", image " << i;
      EXPECT_EQ(host[i].finished, device[i].finished) << "beam " << beam << ", image " << i;
    }
  }
}

GatedParameters supermask_gated_parameters(Captioner& model) {
  optim::Adam adam(model.parameters(), optim::constant_schedule(1e-3));
  pruning::SupermaskPruning supermask(pruning::SupermaskOptions{.total_steps = 10});
  supermask.begin(model.prunable_parameters(), adam);
  GatedParameters result;
  for (const auto& [name, parameter] : model.named_parameters()) {
    if (parameter->has_transform()) result.gated.push_back(name);
    if (nn::is_prunable(parameter->kind())) result.weights_and_embeddings.push_back(name);
  }
  EXPECT_EQ(supermask.gates().size(), result.gated.size());
  return result;
}

namespace {

std::vector<std::string> numbered_words(int64_t count) {
  std::vector<std::string> words = {"<pad>", "<unk>", "<bos>", "<eos>"};
  for (int64_t i = 4; i < count; ++i) words.push_back("word" + std::to_string(i));
  return words;
}

}  // namespace

void expect_export_round_trip(Captioner& model, const nlohmann::json& model_section, const CaptionerInputs& inputs,
                              int64_t expected_csr_weights, Device device) {
  data::testing_support::TemporaryDirectory directory;
  train::RunConfig run;
  run.model = model_section;
  const nlohmann::json run_config = train::resolve_run_config(run);
  const std::vector<std::string> names = model.csr_weight_names();
  const sparse::ExportReport report =
      sparse::export_model(model, std::set<std::string>(names.begin(), names.end()), run_config,
                           numbered_words(model.vocabulary_size()), directory.path() / "model.safetensors",
                           sparse::ExportOptions{});
  train::ExportedCaptioner loaded = train::load_exported_captioner(report.path, device);
  EXPECT_EQ(loaded.model->device(), device);
  EXPECT_EQ(loaded.csr_weights, expected_csr_weights);
  EXPECT_EQ(loaded.model->type(), model.type());
  EXPECT_EQ(loaded.vocabulary, numbered_words(model.vocabulary_size()));

  const DecodingOptions options{.beam_size = 3, .max_words = 8};
  const std::vector<DecodedCaption> dense = beam_search(model, inputs, options);
  const std::vector<DecodedCaption> sparse = beam_search(*loaded.model, inputs, options);
  ASSERT_EQ(dense.size(), sparse.size());
  for (size_t i = 0; i < dense.size(); ++i) {
    EXPECT_EQ(dense[i].tokens, sparse[i].tokens) << "image " << i;
    EXPECT_NEAR(dense[i].log_probability, sparse[i].log_probability, 1e-4) << "image " << i;
  }
  // Step by step too, so a difference shows before it changes a caption.
  NoGradGuard no_grad;
  auto dense_state = model.encode(inputs);
  auto sparse_state = loaded.model->encode(inputs);
  Tensor tokens = full({dense_state->rows()}, static_cast<double>(model.special_tokens().bos), DType::I64);
  for (int step = 0; step < 4; ++step) {
    const Tensor dense_step = model.decode_step(*dense_state, tokens);
    const Tensor sparse_step = loaded.model->decode_step(*sparse_state, tokens);
    EXPECT_LE(max_abs_difference(dense_step, sparse_step), 1e-4) << "step " << step;
    tokens = argmax(dense_step, 1).to(Device::cpu());
  }
}

}  // namespace sparsecap::models::captioner_checks
