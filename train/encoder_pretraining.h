#pragma once
// Pre-training the Soft-Attention encoder on the synthetic shapes set's own labels. A captioning
// loss teaches a CNN from scratch what a shape looks like only slowly: one caption word per object
// per image, through an attention the decoder is still learning. The scene file says what is in
// every cell of the encoder's feature map, so a linear head on each attention position learns to
// name the shape, colour and size of the object there (or background), and the captioner starts
// from an encoder whose memory already holds those facts (init.encoder_weights).
//
// With scene_pairs, a fourth head reads the mean of the whole feature map and says which colour +
// shape pairs the image holds. Per-cell heads alone let the mean keep which colours and which
// shapes are in the picture, but not which colour goes with which shape (Show-and-Tell, which reads
// only that mean, named the right shapes in the wrong colours); this head makes the pairs a linear
// function of the mean. It costs the per-cell heads a little (docs/data.md), and Soft-Attention,
// which reads the cells, lost colour + shape precision with it, so it is off by default.
#include <cstdint>
#include <filesystem>

#include <vector>

#include "data/shapes_scene.h"
#include "engine/tensor.h"
#include "models/mobilenet.h"
#include "train/run_config.h"

namespace sparsecap::train {

struct EncoderPretrainingOptions {
  models::MobileNetConfig encoder;
  int64_t steps = 600;
  int64_t images_per_batch = 32;
  // Adam (eps 1e-8), cosine to 1% of this. 1e-2 reached 94.8% shape accuracy on validation object
  // cells in 1 200 steps, against 93.3-93.8% at 5e-3 (and 94.7% at 2e-2; docs/data.md).
  double learning_rate = 1e-2;
  uint64_t seed = 1;
  Device device = Device::cpu();  // where the encoder trains
  bool scene_pairs = false;       // the head on the map's mean (above)
};

// Options for pre-training the CNN encoder of a run config's model (its "encoder" section; an error
// when the captioner has none) for `steps`, seeded as the run, on the run's device.
EncoderPretrainingOptions encoder_pretraining_options(const RunConfig& config, int64_t steps);

struct EncoderPretrainingSummary {
  int64_t steps = 0;
  double wall_seconds = 0;
  double final_loss = 0;                // the last step's cell-label loss plus scene-pair loss
  double validation_shape_accuracy = 0;  // object cells of 200 validation images, shape head
  double validation_color_accuracy = 0;
  // With scene_pairs, the pair head on the same images, a pair claimed where its logit is above 0:
  // claims that are in the picture, and pairs in the picture that are claimed (0 without it).
  double validation_pair_precision = 0;
  double validation_pair_recall = 0;
};

// Per attention position of a feature map `map_size` x `map_size` over a scene: the object's
// shape (kShapeKindCount: background), colour (kColorNameCount: background) and size
// (kSizeClassCount: background). A cell belongs to the last-drawn object whose circle covers the
// cell's centre, and every object owns at least the cell holding its own centre (small objects may
// cover no cell centre at all).
struct CellLabels {
  std::vector<int64_t> shape, color, size;  // [map_size * map_size], row by row
};
CellLabels cell_labels(const data::Scene& scene, int64_t map_size);

// The pre-training loss on logits [cells, shape + colour + size classes] (kShapeKindCount + 1,
// kColorNameCount + 1, kSizeClassCount + 1 columns, background last in each): mean cross-entropy of
// the shape head over all cells, plus shape, colour and size over the object cells alone. Objects
// cover a few of the 64 cells, and a loss over all cells alone is won by calling every cell
// background (shape accuracy on object cells stalled near 20% that way).
Tensor cell_label_loss(const Tensor& logits, const CellLabels& labels);

// Which colour + shape pairs a scene holds: [kScenePairCount], 1 at scene_pair_index(shape,
// colour) for every object, else 0.
inline constexpr int64_t kScenePairCount = int64_t{data::kShapeKindCount} * data::kColorNameCount;
inline int64_t scene_pair_index(data::ShapeKind shape, data::ColorName color) {
  return static_cast<int64_t>(shape) * data::kColorNameCount + static_cast<int64_t>(color);
}
std::vector<float> scene_pairs(const data::Scene& scene);

// Binary cross-entropy of the pair head's logits [images, kScenePairCount] against `present` (same
// shape, 0 or 1), mean over all entries, in the form that stays finite for large logits:
// relu(x) - x y + log(1 + exp(-|x|)).
Tensor scene_pair_loss(const Tensor& logits, const Tensor& present);

// Trains a fresh encoder on the training split of the synthetic set in `data` (its scene file is
// required) and writes its state (parameters and batch-norm statistics, names as the encoder's own
// state dict) to `out` as safetensors.
EncoderPretrainingSummary pretrain_encoder(const DataConfig& data, const EncoderPretrainingOptions& options,
                                           const std::filesystem::path& out);

}  // namespace sparsecap::train
