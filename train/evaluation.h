#pragma once
// Caption a split with a trained model and score it: the trainer's validation (greedy decoding,
// CIDEr-D only) and `sparsecap eval` (beam search, every metric and the caption statistics).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/karpathy.h"
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

struct SplitEvaluation {
  eval::CaptionScores scores;
  eval::CaptionStatistics statistics;
};

// Every metric (METEOR with WordNet when installed) and the caption statistics against the
// training captions of `dataset`.
SplitEvaluation evaluate_captions(const SplitCaptions& captions, const data::KarpathyDataset& dataset,
                                  int64_t vocabulary_size);

// CIDEr-D only, fast enough for every validation pass.
double validation_cider(const SplitCaptions& captions);

nlohmann::json evaluation_to_json(const SplitEvaluation& evaluation);

}  // namespace sparsecap::train
