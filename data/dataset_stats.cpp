#include "data/dataset_stats.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "data/data_error.h"
#include "data/region_features.h"

namespace sparsecap::data {

namespace fs = std::filesystem;

fs::path find_karpathy_json(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw DataError(dir.string(), "not a directory");
  std::vector<fs::path> candidates;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.starts_with("dataset_") && name.ends_with(".json"))
      candidates.push_back(entry.path());
  }
  if (candidates.empty())
    throw DataError(dir.string(), "no Karpathy split file (dataset_*.json, e.g. dataset_coco.json) in this folder");
  if (candidates.size() > 1) {
    std::sort(candidates.begin(), candidates.end());
    std::string names;
    for (const auto& path : candidates) names += (names.empty() ? "" : ", ") + path.filename().string();
    throw DataError(dir.string(), "more than one Karpathy split file (" + names + "); pass the one to use");
  }
  return candidates.front();
}

DatasetStatistics compute_dataset_statistics(const fs::path& dir, const VocabularyOptions& vocabulary_options,
                                             int64_t max_words) {
  DatasetStatistics statistics;
  statistics.json_path = fs::is_directory(dir) ? find_karpathy_json(dir) : dir;
  const fs::path root = statistics.json_path.parent_path();
  const KarpathyDataset dataset = load_karpathy_json(statistics.json_path);
  statistics.dataset_name = dataset.dataset_name;
  statistics.splits = dataset.split_counts();
  statistics.vocabulary_options = vocabulary_options;
  statistics.max_words = max_words;

  std::vector<std::vector<std::string>> training_captions;
  for (const auto& image : dataset.images)
    for (const auto& sentence : image.sentences) {
      if (image.split == Split::Train) training_captions.push_back(sentence.tokens);
      const auto length = static_cast<int64_t>(sentence.tokens.size());
      ++statistics.caption_length_histogram[length];
      if (length > max_words) ++statistics.captions_longer_than_max;
    }
  statistics.vocabulary_size = Vocabulary::build(training_captions, vocabulary_options).size();

  const RegionFeatureLayout layout = RegionFeatureLayout::under_root(root);
  statistics.has_region_features = fs::is_directory(layout.att_dir);
  if (statistics.has_region_features)
    for (const auto& image : dataset.images) {
      try {
        ++statistics.region_count_histogram[read_region_count(layout, image.feature_id())];
      } catch (const DataError&) {
        ++statistics.images_without_features;  // reported as a count: stats should survive a few holes
      }
    }
  return statistics;
}

std::string format_dataset_statistics(const DatasetStatistics& statistics) {
  std::ostringstream out;
  int64_t images = 0, captions = 0;
  for (const auto& [split, count] : statistics.splits) images += count.images, captions += count.captions;
  out << "dataset: " << (statistics.dataset_name.empty() ? "(unnamed)" : statistics.dataset_name) << " ("
      << statistics.json_path.string() << ")\n";
  out << "images: " << images << ", captions: " << captions << "\n";
  for (const auto& [split, count] : statistics.splits)
    out << "  " << split_name(split) << ": " << count.images << " images, " << count.captions << " captions\n";
  out << "vocabulary: " << statistics.vocabulary_size << " tokens (train words seen >= "
      << statistics.vocabulary_options.min_count << " times, 4 special tokens included)\n";

  auto print_histogram = [&](const std::map<int64_t, int64_t>& histogram, const char* unit) {
    int64_t largest = 1;
    for (const auto& entry : histogram) largest = std::max(largest, entry.second);
    for (const auto& [value, count] : histogram) {
      const auto bar = static_cast<size_t>((count * 40 + largest - 1) / largest);
      out << "  " << (value < 10 ? " " : "") << value << " " << unit << " " << std::string(bar, '#') << " " << count
          << "\n";
    }
  };
  out << "caption length (words):\n";
  print_histogram(statistics.caption_length_histogram, "words");
  if (statistics.captions_longer_than_max > 0)
    out << "  " << statistics.captions_longer_than_max << " captions exceed " << statistics.max_words
        << " words and will be cut\n";
  if (statistics.has_region_features) {
    out << "regions per image:\n";
    print_histogram(statistics.region_count_histogram, "regions");
    if (statistics.images_without_features > 0)
      out << "  " << statistics.images_without_features << " images have missing or unreadable features\n";
  } else {
    out << "regions: no cocobu_att folder\n";
  }
  return out.str();
}

}  // namespace sparsecap::data
