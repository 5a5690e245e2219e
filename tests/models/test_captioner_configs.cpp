// The shipped Show-and-Tell, Up-Down and Object Relation Transformer configs: each loads and resolves, builds its model for
// the synthetic set, and each Supermask variant differs from its dense twin in the pruning
// section and the lower dropout only.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/synthetic_shapes.h"
#include "engine/rng.h"
#include "models/captioner_registry.h"
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

TEST(CaptionerConfigs, ShowTellDenseAndSupermask) {
  expect_dense_and_supermask_pair("show_tell", "show_tell", 0.5, 0.1, "/decoder/dropout"_json_pointer);
}

TEST(CaptionerConfigs, UpDownDenseAndSupermaskReadTheSyntheticFeatures) {
  expect_dense_and_supermask_pair("ud", "up_down", 0.5, 0.1, "/dropout"_json_pointer);
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

}  // namespace
}  // namespace sparsecap::train
