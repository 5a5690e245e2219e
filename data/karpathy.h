#pragma once
// Captions in Karpathy's split format (dataset_coco.json, dataset_flickr8k.json, dataset_flickr30k.json):
//   {"dataset": "coco", "images": [{"filepath": "val2014", "filename": "COCO_val2014_...jpg",
//     "split": "train|val|test|restval", "imgid": 0, "cocoid": 391895,
//     "sentences": [{"tokens": ["a", "man", ...], "raw": "A man ...", ...}, ...]}, ...]}
// The synthetic shapes set is written in the same layout (plus "width"/"height"), so one loader
// reads both.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sparsecap::data {

enum class Split { Train, Val, Test, Restval };

const char* split_name(Split split);
std::optional<Split> parse_split(std::string_view name);

struct Sentence {
  std::vector<std::string> tokens;
  std::string raw;
};

struct KarpathyImage {
  std::string filepath;  // folder below the image root ("val2014"); may be empty
  std::string filename;
  Split split = Split::Train;
  bool from_restval = false;  // was "restval" in the file and has been merged into train
  int64_t imgid = 0;
  std::optional<int64_t> cocoid;
  std::optional<int> width;  // when the file records the image size (the synthetic set does)
  std::optional<int> height;
  std::vector<Sentence> sentences;

  // The id that names this image's feature files: cocoid for COCO, imgid otherwise (the
  // convention of the bottom-up feature dumps and of prepro_labels.py).
  int64_t feature_id() const { return cocoid.value_or(imgid); }
  std::filesystem::path relative_image_path() const;
};

struct SplitCounts {
  int64_t images = 0;
  int64_t captions = 0;
};

struct KarpathyDataset {
  std::string dataset_name;  // the file's "dataset" value ("coco", "flickr8k", "shapes"), may be empty
  std::vector<KarpathyImage> images;

  std::vector<size_t> indices_of_split(Split split) const;  // positions in `images`, file order
  std::map<Split, SplitCounts> split_counts() const;
  // "train: 8000 images, 40000 captions; val: 1000 images, 5000 captions; ..."
  std::string describe_split_counts() const;
};

struct KarpathyLoadOptions {
  bool merge_restval_into_train = true;  // the standard 113 287-image COCO training set
};

// DataError naming the file and the offending entry ("images[12] (imgid 34): ...") when the file is
// missing, is not JSON, or does not have the layout above.
KarpathyDataset load_karpathy_json(const std::filesystem::path& path, const KarpathyLoadOptions& options = {});
KarpathyDataset parse_karpathy_json(const nlohmann::json& document, const std::string& name,
                                    const KarpathyLoadOptions& options = {});

nlohmann::json karpathy_to_json(const KarpathyDataset& dataset);
void write_karpathy_json(const KarpathyDataset& dataset, const std::filesystem::path& path);

}  // namespace sparsecap::data
