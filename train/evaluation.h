#pragma once
// Caption a split with a trained model and score it: the trainer's validation (greedy decoding,
// CIDEr-D only) and `sparsecap eval` (beam search, every metric and the caption statistics).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/karpathy.h"
#include "data/shapes_grounded_scores.h"
#include "data/vocab.h"
#include "eval/caption_stats.h"
#include "eval/score.h"
#include "models/captioner.h"
#include "train/run_config.h"

namespace sparsecap::train {

struct SplitCaptions {
  eval::ReferenceCaptions references;  // image id -> reference captions (tokens joined by spaces)
  eval::CandidateCaptions candidates;  // image id -> generated caption
  std::vector<std::string> image_ids;  // in split order
  std::vector<std::string> image_paths;
};

// Decodes up to `max_images` images of `split` (0: all) in file order, in batches; beam_size 1 is
// greedy decoding. The model is put in evaluation mode and left there.
SplitCaptions caption_split(models::Captioner& model, const data::KarpathyDataset& dataset,
                            const data::Vocabulary& vocabulary, const DataConfig& config, data::Split split,
                            int64_t max_images, int64_t beam_size, int64_t max_words);

// Grounded scores of a split of the synthetic shapes set (data/shapes_grounded_scores.h): the
// model's captions and, as controls, captions that cannot be better than blind (one training
// caption drawn at random per image; the model's caption of a blank image, the same for every
// image) and one that is always true (one of the image's own references drawn at random).
struct GroundedEvaluation {
  data::GroundedScores model;
  data::GroundedScores random_training_caption;
  data::GroundedScores own_reference;
  std::optional<data::GroundedScores> blank_image;
  std::string blank_image_caption;
};

struct SplitEvaluation {
  eval::CaptionScores scores;
  eval::CaptionStatistics statistics;
  std::optional<GroundedEvaluation> grounded;  // when the split comes with scene files
};

// Every metric (METEOR with WordNet when installed) and the caption statistics against the
// training captions of `dataset`.
SplitEvaluation evaluate_captions(const SplitCaptions& captions, const data::KarpathyDataset& dataset,
                                  int64_t vocabulary_size);

// Grounded scores of `captions` when config.dir holds the synthetic set's scene file
// (data::kShapesScenesFile), else nullopt. `blank_image_caption` (may be empty: no such control)
// is scored for every image.
std::optional<GroundedEvaluation> grounded_evaluation(const SplitCaptions& captions,
                                                      const data::KarpathyDataset& dataset, const DataConfig& config,
                                                      const std::string& blank_image_caption);

// The caption the model gives a blank input (train/batch_tensors.h blank_inputs) shaped like the
// first test image.
std::string caption_blank_image(models::Captioner& model, const data::KarpathyDataset& dataset,
                                const data::Vocabulary& vocabulary, const DataConfig& config, int64_t beam_size,
                                int64_t max_words);

// Whether a captioner looks at its images: the teacher-forced caption loss (mean cross-entropy
// per target word, EOS included, evaluation mode) on every reference caption of up to
// `max_images` images of `split` (0: all), once with the real images and once with each image
// replaced by a blank one (train/batch_tensors.h blank_inputs). A model that ignores its input
// scores the same on both.
struct ImageDependence {
  double real_image_loss = 0;
  double blank_image_loss = 0;
  int64_t images = 0;
  int64_t target_words = 0;
};
ImageDependence measure_image_dependence(models::Captioner& model, const data::KarpathyDataset& dataset,
                                         const data::Vocabulary& vocabulary, const DataConfig& config,
                                         data::Split split, int64_t max_images);
nlohmann::json image_dependence_to_json(const ImageDependence& dependence);

// CIDEr-D only, fast enough for every validation pass.
double validation_cider(const SplitCaptions& captions);

nlohmann::json evaluation_to_json(const SplitEvaluation& evaluation);

}  // namespace sparsecap::train
