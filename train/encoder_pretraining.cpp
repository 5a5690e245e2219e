#include "train/encoder_pretraining.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <utility>

#include "data/caption_batch.h"
#include "data/shapes_scene_file.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/serialize/safetensors.h"
#include "train/device_choice.h"
#include "train/dataset_setup.h"
#include "train/progress.h"

namespace sparsecap::train {

namespace {

constexpr int64_t kShapeClasses = data::kShapeKindCount + 1;  // + background
constexpr int64_t kColorClasses = data::kColorNameCount + 1;
constexpr int64_t kSizeClasses = data::kSizeClassCount + 1;

// The linear heads on the encoder: "cells" on each position (shape, colour and size columns),
// and with scene pairs "pairs" on the mean over positions. One module, so that their parameters
// have distinct names.
class PretrainingHeads : public nn::Module {
 public:
  PretrainingHeads(int64_t channels, bool scene_pairs, Generator& generator)
      : cells_(register_module("cells", std::make_shared<nn::Linear>(channels, kShapeClasses + kColorClasses + kSizeClasses,
                                                                     generator))) {
    if (scene_pairs) pairs_ = register_module("pairs", std::make_shared<nn::Linear>(channels, kScenePairCount, generator));
  }

  // memory [B, cells, C] -> cell logits [B * cells, classes] and pair logits [B, kScenePairCount]
  // (undefined without the pair head).
  std::pair<Tensor, Tensor> forward(const Tensor& memory) {
    return {cells_->forward(memory).reshape({-1, kShapeClasses + kColorClasses + kSizeClasses}),
            pairs_ ? pairs_->forward(mean(memory, 1)) : Tensor()};
  }

 private:
  std::shared_ptr<nn::Linear> cells_, pairs_;  // pairs_: null without scene pairs
};

// The images of a batch and the labels of every cell of their feature maps, image by image.
struct LabelledBatch {
  Tensor images;  // [B, 3, H, W]
  CellLabels labels;
  std::vector<float> pairs;  // [B * kScenePairCount], image by image
};

LabelledBatch label_batch(const data::CaptionBatch& batch, const std::map<int64_t, data::Scene>& scenes,
                          int64_t map_size, Device device) {
  LabelledBatch out;
  out.images = from_vector(batch.pixels, {batch.image_count, 3, batch.image_height, batch.image_width}, device);
  for (const int64_t id : batch.image_ids) {
    const auto scene = scenes.find(id);
    SPARSECAP_CHECK(scene != scenes.end(), "encoder pre-training: no scene for image id ", id);
    const CellLabels labels = cell_labels(scene->second, map_size);
    out.labels.shape.insert(out.labels.shape.end(), labels.shape.begin(), labels.shape.end());
    out.labels.color.insert(out.labels.color.end(), labels.color.begin(), labels.color.end());
    out.labels.size.insert(out.labels.size.end(), labels.size.begin(), labels.size.end());
    const std::vector<float> pairs = scene_pairs(scene->second);
    out.pairs.insert(out.pairs.end(), pairs.begin(), pairs.end());
  }
  return out;
}

}  // namespace

Tensor cell_label_loss(const Tensor& logits, const CellLabels& labels) {
  // Cross-entropy skips cells labelled kIgnoredCell: the background cells, for the object-only terms.
  constexpr int64_t kIgnoredCell = -100;
  std::vector<int64_t> object_shape = labels.shape, object_color = labels.color, object_size = labels.size;
  for (size_t cell = 0; cell < object_shape.size(); ++cell) {
    if (object_shape[cell] == data::kShapeKindCount) {
      object_shape[cell] = object_color[cell] = object_size[cell] = kIgnoredCell;
    }
  }
  const int64_t cells = static_cast<int64_t>(labels.shape.size());
  const Tensor shape_logits = narrow(logits, 1, 0, kShapeClasses);
  const Device device = logits.device();
  const Tensor shape = cross_entropy(shape_logits, from_vector(labels.shape, {cells}, device));
  const Tensor object = cross_entropy(shape_logits, from_vector(object_shape, {cells}, device), kIgnoredCell);
  const Tensor color = cross_entropy(narrow(logits, 1, kShapeClasses, kColorClasses),
                                     from_vector(object_color, {cells}, device), kIgnoredCell);
  const Tensor size = cross_entropy(narrow(logits, 1, kShapeClasses + kColorClasses, kSizeClasses),
                                    from_vector(object_size, {cells}, device), kIgnoredCell);
  return add(add(add(shape, object), color), size);
}

std::vector<float> scene_pairs(const data::Scene& scene) {
  std::vector<float> present(kScenePairCount, 0.0f);
  for (const data::SceneObject& object : scene.objects)
    present[static_cast<size_t>(scene_pair_index(object.shape, object.color))] = 1.0f;
  return present;
}

Tensor scene_pair_loss(const Tensor& logits, const Tensor& present) {
  SPARSECAP_CHECK(logits.shape() == present.shape(), "scene pair loss: logits ", shape_str(logits.shape()),
                  " and labels ", shape_str(present.shape()), " differ");
  const Tensor entries = add(sub(relu(logits), mul(logits, present)), log(add_scalar(exp(neg(abs(logits))), 1.0)));
  return mean(sum(entries, 1));
}

EncoderPretrainingOptions encoder_pretraining_options(const RunConfig& config, int64_t steps) {
  SPARSECAP_CHECK(config.model.contains("encoder"), "the ", config.model.value("type", "?"),
                  " model has no CNN encoder to pre-train");
  EncoderPretrainingOptions options;
  models::from_json(config.model.at("encoder"), options.encoder);
  options.steps = steps;
  options.seed = config.optim.seed;
  options.device = choose_device(config.device).device;
  return options;
}

CellLabels cell_labels(const data::Scene& scene, int64_t map_size) {
  const auto cells = static_cast<size_t>(map_size * map_size);
  CellLabels labels{std::vector<int64_t>(cells, data::kShapeKindCount), std::vector<int64_t>(cells, data::kColorNameCount),
                    std::vector<int64_t>(cells, data::kSizeClassCount)};
  const float cell_width = static_cast<float>(scene.width) / static_cast<float>(map_size);
  const float cell_height = static_cast<float>(scene.height) / static_cast<float>(map_size);
  auto assign = [&](size_t cell, const data::SceneObject& object) {
    labels.shape[cell] = static_cast<int64_t>(object.shape);
    labels.color[cell] = static_cast<int64_t>(object.color);
    labels.size[cell] = static_cast<int64_t>(object.size);
  };
  for (const data::SceneObject& object : scene.objects)  // drawing order: later objects cover earlier ones
    for (int64_t row = 0; row < map_size; ++row)
      for (int64_t column = 0; column < map_size; ++column) {
        const float dx = (static_cast<float>(column) + 0.5f) * cell_width - object.center_x;
        const float dy = (static_cast<float>(row) + 0.5f) * cell_height - object.center_y;
        if (dx * dx + dy * dy <= object.radius * object.radius) assign(static_cast<size_t>(row * map_size + column), object);
      }
  for (const data::SceneObject& object : scene.objects) {
    const auto column = std::min(map_size - 1, static_cast<int64_t>(object.center_x / cell_width));
    const auto row = std::min(map_size - 1, static_cast<int64_t>(object.center_y / cell_height));
    assign(static_cast<size_t>(row * map_size + column), object);
  }
  return labels;
}

EncoderPretrainingSummary pretrain_encoder(const DataConfig& data_config, const EncoderPretrainingOptions& options,
                                           const std::filesystem::path& out) {
  const auto start = std::chrono::steady_clock::now();
  std::fprintf(stderr, "sparsecap: pre-training the encoder on %s\n", options.device.str().c_str());
  ensure_dataset(data_config);
  const data::KarpathyDataset dataset = data::load_karpathy_json(data_config.dir / data_config.split_file);
  const std::map<int64_t, data::Scene> scenes = data::read_shapes_scenes(data_config.dir / data::kShapesScenesFile);
  // Batches come from the caption loader for its pixels; the captions are not used.
  std::vector<std::vector<std::string>> captions;
  for (size_t index : dataset.indices_of_split(data::Split::Train))
    for (const data::Sentence& sentence : dataset.images[index].sentences) captions.push_back(sentence.tokens);
  const data::Vocabulary vocabulary = data::Vocabulary::build(captions, {});

  DataConfig config = data_config;
  config.images_per_batch = options.images_per_batch;
  config.seq_per_img = 1;
  data::CaptionBatchLoader loader(dataset, vocabulary, batch_options(config, {.pixels = true}, data::Split::Train, options.seed, true));
  data::CaptionBatchLoader validation(dataset, vocabulary, batch_options(config, {.pixels = true}, data::Split::Val, 0, false));

  Generator generator(options.seed, 7);
  models::MobileNetV1Encoder encoder(options.encoder, generator);
  PretrainingHeads heads(encoder.output_channels(), options.scene_pairs, generator);
  const int64_t map_size = options.encoder.output_size(data_config.image_size);
  encoder.to(options.device);
  heads.to(options.device);
  std::vector<nn::ParameterPtr> parameters = encoder.parameters();
  for (const nn::ParameterPtr& p : heads.parameters()) parameters.push_back(p);
  optim::Adam adam(parameters, optim::cosine_schedule(options.learning_rate, options.learning_rate / 100, options.steps),
                   optim::AdamOptions{});
  auto logits_of = [&](const Tensor& images) { return heads.forward(encoder.forward(images)); };

  EncoderPretrainingSummary summary;
  ProgressBar progress("pre-train encoder", options.steps);
  int64_t epoch = 0;
  loader.start_epoch(epoch);
  encoder.train();
  while (summary.steps < options.steps) {
    std::optional<data::CaptionBatch> batch = loader.next_batch();
    if (!batch) {
      loader.start_epoch(++epoch);
      continue;
    }
    const LabelledBatch labelled = label_batch(*batch, scenes, map_size, options.device);
    adam.zero_grad();
    const auto [cell_logits, pair_logits] = logits_of(labelled.images);
    Tensor loss = cell_label_loss(cell_logits, labelled.labels);
    if (pair_logits.defined())
      loss = add(loss, scene_pair_loss(pair_logits, from_vector(labelled.pairs, pair_logits.shape(), options.device)));
    summary.final_loss = loss.item();
    loss.backward();
    adam.step();
    ++summary.steps;
    char status[64];
    std::snprintf(status, sizeof status, "loss %.3f", summary.final_loss);
    progress.update(summary.steps, status);
  }
  progress.finish();

  // Accuracy on the object cells of validation images, with batch norm in evaluation mode as the
  // captioner will use it.
  encoder.eval();
  NoGradGuard no_grad;
  validation.start_epoch(0);
  int64_t object_cells = 0, right_shapes = 0, right_colors = 0, claimed_pairs = 0, present_pairs = 0, right_pairs = 0;
  for (int64_t images = 0; images < 200;) {
    std::optional<data::CaptionBatch> batch = validation.next_batch();
    if (!batch) break;
    images += batch->image_count;
    const LabelledBatch labelled = label_batch(*batch, scenes, map_size, options.device);
    const auto [logits, pair_logits] = logits_of(labelled.images);
    const std::vector<float> pair_scores = pair_logits.defined() ? pair_logits.to_vector<float>() : std::vector<float>();
    for (size_t pair = 0; pair < pair_scores.size(); ++pair) {
      const bool claimed = pair_scores[pair] > 0.0f, present = labelled.pairs[pair] > 0.5f;
      claimed_pairs += claimed;
      present_pairs += present;
      right_pairs += claimed && present;
    }
    const std::vector<int64_t> shapes = argmax(narrow(logits, 1, 0, kShapeClasses), 1).to_vector<int64_t>();
    const std::vector<int64_t> colors = argmax(narrow(logits, 1, kShapeClasses, kColorClasses), 1).to_vector<int64_t>();
    for (size_t cell = 0; cell < shapes.size(); ++cell) {
      if (labelled.labels.shape[cell] == data::kShapeKindCount) continue;
      ++object_cells;
      right_shapes += shapes[cell] == labelled.labels.shape[cell];
      right_colors += colors[cell] == labelled.labels.color[cell];
    }
  }
  if (object_cells > 0) {
    summary.validation_shape_accuracy = static_cast<double>(right_shapes) / static_cast<double>(object_cells);
    summary.validation_color_accuracy = static_cast<double>(right_colors) / static_cast<double>(object_cells);
  }
  if (claimed_pairs > 0) summary.validation_pair_precision = static_cast<double>(right_pairs) / static_cast<double>(claimed_pairs);
  if (present_pairs > 0) summary.validation_pair_recall = static_cast<double>(right_pairs) / static_cast<double>(present_pairs);
  NamedTensors state;
  for (const auto& [name, tensor] : encoder.state_dict()) state.emplace_back(name, tensor.to(Device::cpu()));
  write_safetensors(out, state);
  summary.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace sparsecap::train
