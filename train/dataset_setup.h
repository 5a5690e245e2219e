#pragma once
// Data for a run: the Karpathy-split file (the built-in synthetic set is generated when it is
// asked for and missing), the vocabulary (built from the training captions once, then read from
// the run directory so a resumed or evaluated run decodes with its own words), and batch options.
#include <filesystem>
#include <functional>

#include "data/caption_batch.h"
#include "data/karpathy.h"
#include "data/vocab.h"
#include "models/captioner_inputs.h"
#include "models/captioner_registry.h"
#include "train/run_config.h"

namespace sparsecap::train {

struct RunData {
  data::KarpathyDataset dataset;
  data::Vocabulary vocabulary;
};

// The vocabulary as a captioner needs it: size (words and special tokens) and the special ids
// data::Vocabulary uses.
models::CaptionerVocabulary captioner_vocabulary(int64_t size);
models::CaptionerVocabulary captioner_vocabulary(const data::Vocabulary& vocabulary);

// True when `config` names the synthetic set's file.
bool is_synthetic_set(const DataConfig& config);

// Generates the synthetic set into config.dir when it is the synthetic set and missing;
// `progress(done, total)` reports generation.
void ensure_dataset(const DataConfig& config, const std::function<void(int64_t, int64_t)>& progress = {});

// Loads the split file; the vocabulary from `vocabulary_path` when it exists, else built from the
// training split and saved there.
RunData load_run_data(const DataConfig& config, const std::filesystem::path& vocabulary_path);

// Batches of `split` holding what the model reads: pixels at the configured size, and/or the
// region features under the data directory (cocobu_att, _fc, _box); augmentation only when
// training and configured.
data::CaptionBatchOptions batch_options(const DataConfig& config, const models::CaptionerInputKinds& inputs,
                                        data::Split split, uint64_t seed, bool training);

}  // namespace sparsecap::train
