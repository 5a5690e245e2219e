// Encoder pre-training on the shapes set's scene labels, and the encoder's own optimizer group.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "models/captioner_registry.h"
#include "models/mobilenet.h"
#include "train/dataset_setup.h"
#include "train/encoder_pretraining.h"
#include "train/trained_run.h"
#include "train/trainer.h"
#include "tests/train/tiny_shapes_set.h"

namespace sparsecap::train {
namespace {

namespace fs = std::filesystem;

data::SceneObject object(data::ShapeKind shape, data::ColorName color, data::SizeClass size, float x, float y,
                         float radius) {
  data::SceneObject o;
  o.shape = shape, o.color = color, o.size = size, o.center_x = x, o.center_y = y, o.radius = radius;
  return o;
}

TEST(CellLabels, CoveredCellsAndEveryObjectsOwnCell) {
  data::Scene scene;
  scene.width = scene.height = 64;
  // 4x4 cells of 16 pixels, centres at 8, 24, 40, 56. The circle covers the four top-left centres;
  // the small star covers none and gets the cell of its centre; the square, drawn last, covers the
  // centre (40, 8) and takes cell 2.
  scene.objects = {object(data::ShapeKind::Circle, data::ColorName::Red, data::SizeClass::Large, 16, 16, 12),
                   object(data::ShapeKind::Star, data::ColorName::Blue, data::SizeClass::Small, 50, 50, 4),
                   object(data::ShapeKind::Square, data::ColorName::White, data::SizeClass::Small, 36, 6, 5)};
  const CellLabels labels = cell_labels(scene, 4);
  const int64_t background_shape = data::kShapeKindCount, background_color = data::kColorNameCount;
  const std::vector<int64_t> shapes = {0, 0, 1, background_shape, 0, 0, background_shape, background_shape,
                                       background_shape, background_shape, background_shape, background_shape,
                                       background_shape, background_shape, background_shape, 4};
  EXPECT_EQ(labels.shape, shapes);
  EXPECT_EQ(labels.color[0], static_cast<int64_t>(data::ColorName::Red));
  EXPECT_EQ(labels.color[2], static_cast<int64_t>(data::ColorName::White));
  EXPECT_EQ(labels.color[15], static_cast<int64_t>(data::ColorName::Blue));
  EXPECT_EQ(labels.color[3], background_color);
  EXPECT_EQ(labels.size[0], static_cast<int64_t>(data::SizeClass::Large));
  EXPECT_EQ(labels.size[15], static_cast<int64_t>(data::SizeClass::Small));
  EXPECT_EQ(labels.size[3], data::kSizeClassCount);
}

// Two cells, one object and one background, in closed form: the shape head's cross-entropy over
// both cells, plus shape, colour and size over the object cell alone; what the colour and size
// heads say about the background cell does not count.
TEST(CellLabelLoss, ShapeOverAllCellsAndEveryHeadOverObjectCells) {
  constexpr int64_t kShapes = data::kShapeKindCount + 1, kColors = data::kColorNameCount + 1,
                    kSizes = data::kSizeClassCount + 1, kColumns = kShapes + kColors + kSizes;
  CellLabels labels;
  labels.shape = {1, data::kShapeKindCount};
  labels.color = {2, data::kColorNameCount};
  labels.size = {0, data::kSizeClassCount};
  const double a = 1.5;
  std::vector<float> logits(2 * kColumns, 0.0f);
  logits[1] = static_cast<float>(a);  // the object cell's right shape
  for (int64_t column = kShapes; column < kColumns; ++column)
    logits[kColumns + column] = static_cast<float>(0.37 * static_cast<double>(column));  // background: ignored
  const double object_shape = std::log(std::exp(a) + static_cast<double>(kShapes - 1)) - a;
  const double expected = (object_shape + std::log(static_cast<double>(kShapes))) / 2 + object_shape +
                          std::log(static_cast<double>(kColors)) + std::log(static_cast<double>(kSizes));
  EXPECT_NEAR(cell_label_loss(from_vector(logits, {2, kColumns}), labels).item(), expected, 1e-5);
}

TEST(ScenePairs, OneForEveryColourAndShapeInTheScene) {
  data::Scene scene;
  scene.width = scene.height = 64;
  // Two red circles (one pair) and a blue star; a red star and a blue circle are not in it.
  scene.objects = {object(data::ShapeKind::Circle, data::ColorName::Red, data::SizeClass::Large, 16, 16, 12),
                   object(data::ShapeKind::Star, data::ColorName::Blue, data::SizeClass::Small, 50, 50, 4),
                   object(data::ShapeKind::Circle, data::ColorName::Red, data::SizeClass::Small, 40, 10, 5)};
  const std::vector<float> pairs = scene_pairs(scene);
  ASSERT_EQ(pairs.size(), static_cast<size_t>(kScenePairCount));
  std::vector<float> expected(kScenePairCount, 0.0f);
  expected[static_cast<size_t>(data::kColorNameCount * static_cast<int>(data::ShapeKind::Circle) +
                               static_cast<int>(data::ColorName::Red))] = 1.0f;
  expected[static_cast<size_t>(data::kColorNameCount * static_cast<int>(data::ShapeKind::Star) +
                               static_cast<int>(data::ColorName::Blue))] = 1.0f;
  EXPECT_EQ(pairs, expected);
}

// Binary cross-entropy summed over the pairs, mean over images, in closed form; logits of +-100
// give their exact values (0 when right, 100 when wrong), not inf or NaN.
TEST(ScenePairLoss, SummedOverPairsAndAveragedOverImages) {
  std::vector<float> logits(2 * kScenePairCount, 0.0f), present(2 * kScenePairCount, 0.0f);
  logits[0] = 2.0f, present[0] = 1.0f;                                       // image 0: log(1 + e^-2)
  logits[1] = -0.5f;                                                         // log(1 + e^-0.5)
  logits[kScenePairCount] = 100.0f, present[kScenePairCount] = 1.0f;         // image 1: 0
  logits[kScenePairCount + 1] = -100.0f, present[kScenePairCount + 1] = 1.0f;  // 100
  logits[kScenePairCount + 2] = -100.0f;                                      // 0
  // Every other entry: logit 0, log 2 whatever the label.
  const double rest = static_cast<double>(2 * kScenePairCount - 5) * std::log(2.0);
  const double expected =
      (std::log1p(std::exp(-2.0)) + std::log1p(std::exp(-0.5)) + 100.0 + rest) / 2;
  const Tensor loss = scene_pair_loss(from_vector(logits, {2, kScenePairCount}), from_vector(present, {2, kScenePairCount}));
  EXPECT_NEAR(loss.item(), expected, 1e-5 * expected);  // float32 over 126 terms
}

class EncoderPretrainingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("sparsecap_encoder_pretraining_" + std::to_string(::getpid()));
    fs::create_directories(root_);
    write_tiny_shapes_set(root_ / "shapes", 5);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static RunConfig tiny_config(int64_t steps) {
    RunConfig config = tiny_soft_attention_config(root_ / "shapes", 1);
    config.optim.max_steps = steps;
    config.schedule.validate_every = steps;
    config.schedule.validation_images = 8;
    return config;
  }

  static inline fs::path root_;
};

TEST_F(EncoderPretrainingTest, WritesAnEncoderTheTrainerLoads) {
  const RunConfig config = tiny_config(2);
  EncoderPretrainingOptions options;
  models::from_json(config.model.at("encoder"), options.encoder);
  options.steps = 3;
  options.images_per_batch = 8;
  const fs::path file = root_ / "pretrained.safetensors";
  const EncoderPretrainingSummary summary = pretrain_encoder(config.data, options, file);
  EXPECT_EQ(summary.steps, 3);
  EXPECT_TRUE(std::isfinite(summary.final_loss));
  EXPECT_GE(summary.validation_shape_accuracy, 0.0);
  EXPECT_LE(summary.validation_shape_accuracy, 1.0);
  EXPECT_EQ(summary.validation_pair_recall, 0.0);  // no pair head by default
  ASSERT_TRUE(fs::exists(file));

  Generator generator(9);
  const std::unique_ptr<models::Captioner> model =
      models::make_captioner(config.model, captioner_vocabulary(30), generator);
  load_encoder_weights(*model, file);  // every key present, every shape right

  // With the scene-pair head: the same encoder keys (the head is not saved), pair scores measured.
  options.scene_pairs = true;
  const fs::path with_pairs = root_ / "pretrained_pairs.safetensors";
  const EncoderPretrainingSummary paired = pretrain_encoder(config.data, options, with_pairs);
  EXPECT_TRUE(std::isfinite(paired.final_loss));
  EXPECT_GT(paired.final_loss, summary.final_loss);  // the pair loss is added (about 63 ln 2 at the start)
  EXPECT_GE(paired.validation_pair_recall, 0.0);
  EXPECT_LE(paired.validation_pair_recall, 1.0);
  load_encoder_weights(*model, with_pairs);
}

// With its own group at a vanishing learning rate the encoder's parameters stay where they started
// while the decoder's move; in the single group both move.
TEST_F(EncoderPretrainingTest, EncoderGroupHasItsOwnLearningRate) {
  auto train_and_compare = [](double encoder_learning_rate, const std::string& name) {
    RunConfig config = tiny_config(3);
    config.optim.encoder_learning_rate = encoder_learning_rate;
    const fs::path run = root_ / name;
    train_captioner(config, TrainOptions{run});
    TrainedRun trained = load_trained_run(run, run / "checkpoints" / "final.safetensors");
    Generator generator(config.optim.seed);
    const std::unique_ptr<models::Captioner> initial =
        models::make_captioner(trained.config.model, captioner_vocabulary(trained.data.vocabulary), generator);
    const nn::StateDict start = initial->state_dict(), end = trained.model->state_dict();
    return std::pair{start.at("encoder.stem.weight").to_vector<float>() != end.at("encoder.stem.weight").to_vector<float>(),
                     start.at("decoder.logit.weight").to_vector<float>() != end.at("decoder.logit.weight").to_vector<float>()};
  };
  const auto [encoder_moved_alone, decoder_moved_alone] = train_and_compare(1e-30, "own_group");
  EXPECT_FALSE(encoder_moved_alone);
  EXPECT_TRUE(decoder_moved_alone);
  const auto [encoder_moved, decoder_moved] = train_and_compare(0, "one_group");
  EXPECT_TRUE(encoder_moved);
  EXPECT_TRUE(decoder_moved);
}

}  // namespace
}  // namespace sparsecap::train
