// The shipped Show-and-Tell, Up-Down and Object Relation Transformer configs: each loads and resolves, builds its model for
// the synthetic set, and each Supermask variant differs from its dense twin in the pruning
// section and the lower dropout only.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "data/synthetic_shapes.h"
#include "engine/error.h"
#include "engine/rng.h"
#include "models/captioner_registry.h"
#include "models/mobilenet.h"
#include "train/learning_rate_schedule.h"
#include "train/model_info.h"
#include "train/run_config.h"

namespace sparsecap::train {
namespace {

const std::filesystem::path kConfigs = SPARSECAP_CONFIGS_DIR;

// The model section without its dropout, which the pruned variants lower.
nlohmann::json without_dropout(nlohmann::json model) {
  if (model.contains("decoder")) model["decoder"].erase("dropout");
  model.erase("dropout");
  return model;
}

void expect_dense_and_supermask_pair(const std::string& stem, const std::string& type, double dense_dropout,
                                     double pruned_dropout, const nlohmann::json::json_pointer& dropout_key) {
  const RunConfig dense = load_run_config(kConfigs / (stem + "_dense.json"));
  const RunConfig pruned = load_run_config(kConfigs / (stem + "_supermask.json"));
  EXPECT_EQ(dense.model.at("type"), type);
  EXPECT_EQ(pruned.model.at("type"), type);
  EXPECT_EQ(dense.pruning.at("method"), "none");
  EXPECT_EQ(pruned.pruning.at("method"), "supermask");
  EXPECT_EQ(pruned.pruning.at("target_sparsity"), 0.9);
  EXPECT_EQ(dense.model.at(dropout_key), dense_dropout);
  EXPECT_EQ(pruned.model.at(dropout_key), pruned_dropout);
  EXPECT_EQ(without_dropout(dense.model), without_dropout(pruned.model));
  const nlohmann::json dense_json = dense, pruned_json = pruned;
  EXPECT_EQ(dense_json.at("data"), pruned_json.at("data"));
  EXPECT_EQ(dense_json.at("optim"), pruned_json.at("optim"));
  Generator generator(1);
  const std::unique_ptr<models::Captioner> model =
      models::make_captioner(pruned.model, models::CaptionerVocabulary{.size = 60, .tokens = {}}, generator);
  EXPECT_EQ(model->type(), type);
}

TEST(CaptionerConfigs, ShowTellDenseAndSupermaskTakeTheDemosEncoder) {
  expect_dense_and_supermask_pair("show_tell", "show_tell", 0.1, 0.1, "/decoder/dropout"_json_pointer);
  // `demo --all-models` loads the encoder it pre-trains for the main demo (stride 8, width 0.5).
  const RunConfig dense = load_run_config(kConfigs / "show_tell_dense.json");
  std::vector<std::vector<int64_t>> blocks;
  for (const models::SeparableBlockSpec& block : models::mobilenet_v1_stride8_blocks())
    blocks.push_back({block.channels, block.stride});
  EXPECT_EQ(dense.model.at("encoder").at("blocks"), nlohmann::json(blocks));
  EXPECT_EQ(dense.model.at("encoder").at("width_multiplier"), 0.5);
  // Both image options on (models/show_tell.h says why); the pair stays the same model.
  EXPECT_EQ(dense.model.at("decoder").at("image_batch_norm"), true);
  EXPECT_EQ(dense.model.at("decoder").at("image_initial_state"), true);
}

TEST(CaptionerConfigs, UpDownDenseAndSupermaskReadTheSyntheticFeatures) {
  expect_dense_and_supermask_pair("ud", "up_down", 0.05, 0.1, "/dropout"_json_pointer);
  const RunConfig dense = load_run_config(kConfigs / "ud_dense.json");
  EXPECT_EQ(dense.model.at("feature_size"), data::SyntheticShapesOptions{}.feature_dim);
  // Paper size through --set overrides.
  const RunConfig paper = load_run_config(kConfigs / "ud_dense.json",
                                          {"model.feature_size=2048", "model.hidden_size=1000",
                                           "model.embedding_size=1000", "model.attention_size=512"});
  EXPECT_EQ(paper.model.at("hidden_size"), 1000);
  EXPECT_EQ(paper.model.at("feature_size"), 2048);
}

TEST(CaptionerConfigs, RelationTransformerDenseAndSupermask) {
  // The reference's internal dropout is 0.1 dense and 0.1 / 3 pruned.
  expect_dense_and_supermask_pair("ort", "relation_transformer", 0.1, 0.0333, "/dropout"_json_pointer);
  const RunConfig dense = load_run_config(kConfigs / "ort_dense.json");
  EXPECT_EQ(dense.model.at("feature_size"), data::SyntheticShapesOptions{}.feature_dim);
  EXPECT_EQ(dense.model.at("box_relation"), true);
}

// Up-Down at paper size, counted layer by layer as the reference builds it: embedding V x E, fc
// and att embeddings F -> H, attention LSTM [h_lang, fc, x] -> H and language LSTM
// [attended, h_att] -> H (PyTorch LSTMCell: two bias vectors), ctx2att and h2att H -> A,
// alpha_net A -> 1, logit H -> V.
int64_t up_down_parameters(int64_t vocabulary, int64_t features, int64_t hidden, int64_t embedding, int64_t attention) {
  const auto linear = [](int64_t in, int64_t out) { return in * out + out; };
  const auto lstm = [](int64_t in, int64_t units) { return 4 * units * (in + units) + 8 * units; };
  return vocabulary * embedding + 2 * linear(features, hidden) + lstm(2 * hidden + embedding, hidden) +
         lstm(2 * hidden, hidden) + 2 * linear(hidden, attention) + linear(attention, 1) + linear(hidden, vocabulary);
}

// The Object Relation Transformer at paper size: att_embed F -> d; per encoder layer two layer
// norms, Q/K/V/O projections, the per-head relation ReLU(Linear(64 -> 1)) and the feed-forward
// d -> ff -> d; per decoder layer three norms, two attentions and the feed-forward; final norms,
// embedding V x d and logit d -> V.
int64_t relation_transformer_parameters(int64_t vocabulary, int64_t features, int64_t d, int64_t feed_forward,
                                        int64_t layers, int64_t heads) {
  const auto linear = [](int64_t in, int64_t out) { return in * out + out; };
  const int64_t norm = 2 * d, attention = 4 * linear(d, d), ffn = linear(d, feed_forward) + linear(feed_forward, d);
  const int64_t encoder_layer = 2 * norm + attention + heads * linear(64, 1) + ffn;
  const int64_t decoder_layer = 3 * norm + 2 * attention + ffn;
  return linear(features, d) + layers * (encoder_layer + decoder_layer) + 2 * norm + vocabulary * d +
         linear(d, vocabulary);
}

// The reference's models: paper sizes, and without the configs' box features (5 more inputs to
// att_embed) and feature standardisation (buffers, not parameters).
const std::vector<std::string> kUpDownPaperSize = {"model.feature_size=2048",      "model.hidden_size=1000",
                                                   "model.embedding_size=1000",    "model.attention_size=512",
                                                   "model.box_features=false",     "model.box_frequencies=0",
                                                   "model.standardize_features=false", "model.coverage=false",
                                                   "model.region_sum=false"};
const std::vector<std::string> kRelationTransformerPaperSize = {
    "model.feature_size=2048", "model.model_size=512",     "model.feed_forward_size=2048",
    "model.encoder_layers=6",  "model.decoder_layers=6",   "model.heads=8",
    "model.box_features=false", "model.box_frequencies=0",   "model.standardize_features=false",
    "model.coverage=false",     "model.region_sum=false"};

TEST(CaptionerConfigs, ParameterCountsAtPaperSize) {
  const RunConfig up_down = load_run_config(kConfigs / "ud_dense.json", kUpDownPaperSize);
  const RunConfig transformer = load_run_config(kConfigs / "ort_dense.json", kRelationTransformerPaperSize);
  // With the Supermask authors' default vocabulary of 10 001 tokens both match the notes and the
  // paper (Up-Down 53.1 M = 212.6 MB in float32; ORT 55.4 M) within 1%.
  const ModelParameterCounts ud = count_model_parameters(up_down.model, kReferenceVocabularySize);
  EXPECT_EQ(ud.parameters, up_down_parameters(kReferenceVocabularySize, 2048, 1000, 1000, 512));
  EXPECT_EQ(ud.parameters, 53151538);
  EXPECT_NEAR(static_cast<double>(ud.parameters) / 53.1e6, 1.0, 0.01);
  EXPECT_NEAR(4.0 * static_cast<double>(ud.parameters) / 1e6, 212.6, 0.05);
  const ModelParameterCounts ort = count_model_parameters(transformer.model, kReferenceVocabularySize);
  EXPECT_EQ(ort.parameters, relation_transformer_parameters(kReferenceVocabularySize, 2048, 512, 2048, 6, 8));
  EXPECT_EQ(ort.parameters, 55443777);
  EXPECT_NEAR(static_cast<double>(ort.parameters) / 55.4e6, 1.0, 0.01);
  // The groups add up, and only biases and norms are left out of the prunable count.
  int64_t sum = 0, prunable = 0;
  for (const ParameterGroupCount& group : ort.groups) sum += group.parameters, prunable += group.prunable;
  EXPECT_EQ(sum, ort.parameters);
  EXPECT_EQ(prunable, ort.prunable);
  EXPECT_EQ(ud.groups.front().name, "embedding");
  EXPECT_EQ(ud.groups.front().parameters, kReferenceVocabularySize * 1000);
  // The COCO vocabulary of words seen >= 5 times (9 487 words, + pad, bos, eos, unk) gives 1.8%
  // fewer than the notes' 53.1 M: that figure implies the 10 001-token vocabulary, not 9 487 words.
  const ModelParameterCounts coco = count_model_parameters(up_down.model, 9487 + 4);
  EXPECT_EQ(coco.parameters, up_down_parameters(9491, 2048, 1000, 1000, 512));
  EXPECT_EQ(coco.parameters, 52131028);
  EXPECT_GT(std::abs(static_cast<double>(coco.parameters) / 53.1e6 - 1.0), 0.01);
}

// ORT follows the Noam schedule, lr = f d^-0.5 min(t^-0.5, t w^-1.5): with d 128, w 200 and
// f 0.24 that is 0.24 / sqrt(128 * 200) = 1.5e-3 at the peak (the reference's 1 / sqrt(512 * 10^4)
// = 4.42e-4 on a run about 45x shorter; at 5e-4 the small model learnt too slowly), half of it
// half-way up and 4w down.
TEST(CaptionerConfigs, RelationTransformerFollowsTheNoamSchedule) {
  const RunConfig config = load_run_config(kConfigs / "ort_dense.json");
  EXPECT_EQ(config.optim.schedule, "noam");
  const optim::SchedulePtr noam = main_learning_rate_schedule(config, 1600, 0);
  EXPECT_NEAR(noam->lr_at(1), 7.5e-6, 1e-18);
  EXPECT_NEAR(noam->lr_at(100), 7.5e-4, 1e-16);
  EXPECT_NEAR(noam->lr_at(200), 1.5e-3, 1e-16);
  EXPECT_NEAR(noam->lr_at(800), 7.5e-4, 1e-16);
  EXPECT_EQ(load_run_config(kConfigs / "ort_supermask.json").optim.schedule, "noam");
  // A restart (fine-tuning after one-shot pruning) warms up again.
  const optim::SchedulePtr restarted = main_learning_rate_schedule(config, 1600, 1001);
  EXPECT_EQ(restarted->lr_at(1000), noam->lr_at(1000));
  EXPECT_EQ(restarted->lr_at(1001), noam->lr_at(1));
  EXPECT_EQ(restarted->lr_at(1200), noam->lr_at(200));
  // The reference at paper size: d 512, warm-up 10k, factor 1.
  const RunConfig paper = load_run_config(
      kConfigs / "ort_dense.json", {"model.model_size=512", "optim.warmup_steps=10000", "optim.noam_factor=1"});
  EXPECT_NEAR(main_learning_rate_schedule(paper, 100000, 0)->lr_at(10000), 1 / std::sqrt(512.0 * 10000), 1e-16);
  // The LSTM captioners keep the cosine; Noam needs a model_size.
  const RunConfig up_down = load_run_config(kConfigs / "ud_dense.json");
  EXPECT_EQ(up_down.optim.schedule, "cosine");
  EXPECT_DOUBLE_EQ(main_learning_rate_schedule(up_down, 100, 0)->lr_at(1), 0.005);
  EXPECT_DOUBLE_EQ(main_learning_rate_schedule(up_down, 100, 0)->lr_at(101), 1e-5);
  const RunConfig up_down_noam = load_run_config(kConfigs / "ud_dense.json", {"optim.schedule=noam"});
  try {
    main_learning_rate_schedule(up_down_noam, 100, 0);
    ADD_FAILURE() << "noam without model_size did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model_size"), std::string::npos) << e.what();
  }
  try {
    load_run_config(kConfigs / "ud_dense.json", {"optim.schedule=linear"});
    ADD_FAILURE() << "an unknown schedule did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"cosine\" or \"noam\", got \"linear\""), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sparsecap::train
