// Every captioner on a CUDA device against the same captioner on the CPU (float32): the training
// loss, every parameter's gradient, and the log-probabilities of the first decoding steps. Each
// test skips with "no CUDA device" where there is no GPU (or no CUDA in the build), so the suite
// exists and reports itself everywhere; scripts run it on a GPU machine (docs/cuda.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cuda/cuda_runtime_info.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "models/captioner_registry.h"
#include "tests/models/captioner_checks.h"

namespace sparsecap::models {
namespace {

constexpr int64_t kBos = 2, kVocabulary = 12;

bool have_cuda_device() { return cuda::built_with_cuda() && !cuda::devices().empty(); }

#define SKIP_WITHOUT_CUDA()                                    \
  do {                                                         \
    if (!have_cuda_device()) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

// Float32 on both devices; the sums run in another order on the GPU (cuBLAS blocking, tree
// reductions), a few ulps per op through a few dozen ops.
constexpr double kTolerance = 1e-3;

// |a - b| within kTolerance of the larger of 1 and a's largest magnitude, over every element.
void expect_close(const Tensor& cpu, const Tensor& cuda, const std::string& what) {
  ASSERT_EQ(cpu.shape(), cuda.shape()) << what;
  const std::vector<double> a = cpu.to_vector<double>(), b = cuda.to(Device::cpu()).to_vector<double>();
  double scale = 1, worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(a[i]));
    worst = std::max(worst, std::abs(a[i] - b[i]));
  }
  EXPECT_LE(worst, kTolerance * scale) << what;
}

// Two images x 2 captions of length 6: BOS w.. EOS PAD...
Tensor tiny_captions() { return captioner_checks::two_images_two_captions(); }

CaptionerInputs on_device(const CaptionerInputs& inputs, Device device) {
  CaptionerInputs moved;
  for (auto [from, to] : {std::pair{&inputs.images, &moved.images}, {&inputs.region_features, &moved.region_features},
                          {&inputs.region_mask, &moved.region_mask}, {&inputs.fc_features, &moved.fc_features},
                          {&inputs.boxes, &moved.boxes}})
    if (from->defined()) *to = from->to(device);
  return moved;
}

// Two images of 16 x 16 pixels.
CaptionerInputs pixel_inputs(Generator& generator) { return CaptionerInputs(randn({2, 3, 16, 16}, generator)); }

// Two images with 3 and 2 real regions of 3 slots (the padded slot zero and masked), boxes inside
// the image.
CaptionerInputs region_inputs(Generator& generator) {
  CaptionerInputs inputs;
  inputs.region_mask = from_vector<float>({1, 1, 1, 1, 1, 0}, {2, 3});
  inputs.region_features = mul(randn({2, 3, 6}, generator), unsqueeze(inputs.region_mask, 2));
  inputs.fc_features = randn({2, 6}, generator);
  inputs.boxes = captioner_checks::random_boxes(2, 3, generator, DType::F32);
  return inputs;
}

// The same model (one seed) on the CPU and on cuda:0: the loss and its gradients in training mode
// (dropout 0 in every config below), then in evaluation mode three decoding steps of BOS and two
// words from encode().
void expect_cuda_matches_cpu(const nlohmann::json& model_section, const CaptionerInputs& inputs) {
  Generator cpu_generator(7), cuda_generator(7);
  const CaptionerVocabulary vocabulary{.size = kVocabulary, .tokens = {}};
  const std::unique_ptr<Captioner> cpu = make_captioner(model_section, vocabulary, cpu_generator);
  const std::unique_ptr<Captioner> on_cuda = make_captioner(model_section, vocabulary, cuda_generator);
  on_cuda->to(Device::cuda(0));
  const CaptionerInputs cuda_inputs = on_device(inputs, Device::cuda(0));

  cpu->train();
  on_cuda->train();
  const Tensor cpu_loss = cpu->loss(inputs, tiny_captions(), 2);
  const Tensor cuda_loss = on_cuda->loss(cuda_inputs, tiny_captions().to(Device::cuda(0)), 2);
  expect_close(cpu_loss, cuda_loss, "loss");
  cpu_loss.backward();
  cuda_loss.backward();
  const auto cpu_parameters = cpu->named_parameters(), cuda_parameters = on_cuda->named_parameters();
  ASSERT_EQ(cpu_parameters.size(), cuda_parameters.size());
  for (size_t i = 0; i < cpu_parameters.size(); ++i) {
    const auto& [name, parameter] = cpu_parameters[i];
    ASSERT_EQ(cuda_parameters[i].first, name);
    ASSERT_TRUE(cuda_parameters[i].second->grad().defined() == parameter->grad().defined()) << name;
    if (parameter->grad().defined()) expect_close(parameter->grad(), cuda_parameters[i].second->grad(), name + " gradient");
  }

  cpu->eval();
  on_cuda->eval();
  NoGradGuard no_grad;
  std::unique_ptr<DecodingState> cpu_state = cpu->encode(inputs);
  std::unique_ptr<DecodingState> cuda_state = on_cuda->encode(cuda_inputs);
  for (const int64_t word : {kBos, int64_t{4}, int64_t{5}}) {
    const Tensor tokens = full({2}, static_cast<double>(word), DType::I64);  // host tokens, as beam search gives
    expect_close(cpu->decode_step(*cpu_state, tokens), on_cuda->decode_step(*cuda_state, tokens),
                 "log-probabilities after token " + std::to_string(word));
  }
}

// Small configs of every captioner with their optional terms on.
const nlohmann::json kSoftAttention = {
    {"type", "soft_attention"},
    {"encoder", {{"width_multiplier", 0.25}, {"stem_channels", 32}, {"blocks", {{32, 2}, {64, 2}}}}},
    {"decoder",
     {{"hidden_size", 6}, {"embedding_size", 5}, {"attention_size", 4}, {"dropout", 0.0}, {"coverage", true},
      {"coordinate_channels", true}, {"word_in_query", true}, {"context_in_output", true}}}};
const nlohmann::json kShowTell = {
    {"type", "show_tell"},
    {"encoder", {{"width_multiplier", 0.25}, {"stem_channels", 32}, {"blocks", {{32, 2}, {64, 2}}}}},
    {"decoder", {{"hidden_size", 6}, {"embedding_size", 5}, {"dropout", 0.0}}}};
const nlohmann::json kUpDown = {{"type", "up_down"},        {"feature_size", 6},     {"embedding_size", 5},
                                {"hidden_size", 7},         {"attention_size", 4},   {"dropout", 0.0},
                                {"box_features", true},     {"box_frequencies", 2},  {"standardize_features", true},
                                {"coverage", true}};
const nlohmann::json kRelationTransformer = {
    {"type", "relation_transformer"}, {"feature_size", 6},    {"model_size", 8},      {"feed_forward_size", 12},
    {"encoder_layers", 2},            {"decoder_layers", 2},  {"heads", 2},           {"dropout", 0.0},
    {"box_features", true},           {"box_frequencies", 2}, {"standardize_features", true},
    {"coverage", true},               {"region_sum", true}};

TEST(CaptionersOnCuda, SoftAttentionMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  Generator generator(1);
  expect_cuda_matches_cpu(kSoftAttention, pixel_inputs(generator));
}

TEST(CaptionersOnCuda, ShowTellMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  Generator generator(2);
  expect_cuda_matches_cpu(kShowTell, pixel_inputs(generator));
}

TEST(CaptionersOnCuda, UpDownMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  Generator generator(3);
  expect_cuda_matches_cpu(kUpDown, region_inputs(generator));
}

TEST(CaptionersOnCuda, RelationTransformerMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  Generator generator(4);
  expect_cuda_matches_cpu(kRelationTransformer, region_inputs(generator));
}

// A half-pruned model exported and loaded onto cuda:0, where its CSR weights compute through
// cuSPARSE (SpMM for beams and batches, SpMV for the step-by-step decoding of a single image),
// against the dense finalized model on the same device: same beam captions, same
// log-probabilities step by step.
void expect_gpu_export_round_trip(const nlohmann::json& section, const CaptionerInputs& inputs) {
  Generator generator(11);
  const CaptionerVocabulary vocabulary{.size = kVocabulary, .tokens = {}};
  const std::unique_ptr<Captioner> model = make_captioner(section, vocabulary, generator);
  {
    NoGradGuard no_grad;
    for (const nn::ParameterPtr& weight : model->prunable_parameters())
      weight->value().copy_(mul(weight->value(), greater_than(rand(weight->shape(), generator), 0.5)));
  }
  model->eval();
  model->to(Device::cuda(0));
  captioner_checks::expect_export_round_trip(*model, section, on_device(inputs, Device::cuda(0)),
                                             static_cast<int64_t>(model->sparse_compute_weight_names().size()),
                                             Device::cuda(0));
}

TEST(CaptionersOnCuda, ExportedModelsRunTheirCsrWeightsOnTheGpu) {
  SKIP_WITHOUT_CUDA();
  Generator generator(5);
  expect_gpu_export_round_trip(kSoftAttention, pixel_inputs(generator));
  expect_gpu_export_round_trip(kSoftAttention, CaptionerInputs(randn({1, 3, 16, 16}, generator)));  // SpMV
  expect_gpu_export_round_trip(kShowTell, pixel_inputs(generator));
  expect_gpu_export_round_trip(kUpDown, region_inputs(generator));
  expect_gpu_export_round_trip(kRelationTransformer, region_inputs(generator));
}

}  // namespace
}  // namespace sparsecap::models
