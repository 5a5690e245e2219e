#pragma once
// What `sparsecap data stats DIR` prints: per-split image and caption counts, the vocabulary the
// training split gives, the caption length histogram and the number of regions per image.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "data/karpathy.h"
#include "data/vocab.h"

namespace sparsecap::data {

struct DatasetStatistics {
  std::filesystem::path json_path;
  std::string dataset_name;
  std::map<Split, SplitCounts> splits;
  int64_t vocabulary_size = 0;  // with special tokens, from the train split and the options below
  VocabularyOptions vocabulary_options;
  int64_t max_words = 16;
  std::map<int64_t, int64_t> caption_length_histogram;  // words -> captions, all splits
  int64_t captions_longer_than_max = 0;                 // would be cut to max_words
  bool has_region_features = false;
  std::map<int64_t, int64_t> region_count_histogram;  // regions -> images
  int64_t images_without_features = 0;
};

// The single dataset_*.json in `dir` (DataError when there is none or more than one).
std::filesystem::path find_karpathy_json(const std::filesystem::path& dir);

DatasetStatistics compute_dataset_statistics(const std::filesystem::path& dir, const VocabularyOptions& vocabulary = {},
                                             int64_t max_words = 16);
std::string format_dataset_statistics(const DatasetStatistics& statistics);

}  // namespace sparsecap::data
