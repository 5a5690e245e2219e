#pragma once
// Batches for captioning: per image, seq_per_img encoded captions, and (as the model needs) its
// region features with boxes and/or its pixels. Host-side buffers with explicit shapes; the models
// turn them into engine tensors. Padding is always zero and always masked:
//   captions [images * seq_per_img, max_words + 2]: BOS w1 .. wn EOS PAD ..  (PAD = 0)
//   caption_mask (same shape): 1 from BOS through EOS, 0 on padding
//   region_features [images, max_regions, dim], region_mask [images, max_regions]: 1 on real regions
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/karpathy.h"
#include "data/region_features.h"
#include "data/vocab.h"
#include "engine/rng.h"

namespace sparsecap::data {

struct CaptionBatch {
  int64_t image_count = 0;
  int64_t seq_per_img = 0;
  int64_t sequence_length = 0;  // max_words + 2 (BOS and EOS)

  std::vector<int64_t> image_ids;                // [image_count] feature ids (cocoid or imgid)
  std::vector<std::string> image_paths;          // [image_count] relative image paths, for reports
  std::vector<int64_t> captions;                 // [image_count * seq_per_img, sequence_length]
  std::vector<float> caption_mask;               // [image_count * seq_per_img, sequence_length]
  std::vector<int64_t> caption_lengths;          // [image_count * seq_per_img] words, BOS/EOS excluded
  // All reference captions of each image (tokenised), for evaluation and self-critical rewards.
  std::vector<std::vector<std::vector<std::string>>> references;

  // Region features (empty unless loaded).
  int64_t max_regions = 0;
  int64_t feature_dim = 0;
  std::vector<float> region_features;  // [image_count, max_regions, feature_dim]
  std::vector<float> region_mask;      // [image_count, max_regions]
  std::vector<int64_t> region_counts;  // [image_count]
  std::vector<float> fc_features;      // [image_count, feature_dim]
  std::vector<float> boxes;            // [image_count, max_regions, 4] pixels x0 y0 x1 y1 (empty without boxes)
  std::vector<float> relative_boxes;   // [image_count, max_regions, 4] divided by image width/height

  // Pixels (empty unless loaded).
  int64_t image_height = 0;
  int64_t image_width = 0;
  std::vector<float> pixels;  // [image_count, 3, image_height, image_width], normalised
};

struct CaptionBatchOptions {
  Split split = Split::Train;
  int64_t images_per_batch = 10;
  int64_t seq_per_img = 5;
  // > 0: captions are drawn from each image's first `leading_references` references only (the
  // synthetic set's first names every object: data/shapes_captions.cpp); 0: from all of them.
  // batch.references always holds all of them.
  int64_t leading_references = 0;
  CaptionEncodingOptions encoding;  // max_words: default 16
  bool shuffle = true;              // reorder images each epoch (from seed and epoch)
  uint64_t seed = 0;
  bool drop_last = false;  // drop a final batch with fewer than images_per_batch images

  std::optional<RegionFeatureLayout> region_features;  // load region features from here
  // Where the images are (image_root / filepath / filename). Needed to load pixels, and to learn
  // image sizes for relative boxes when the split file has no width/height (only the header is read).
  std::optional<std::filesystem::path> image_root;
  bool load_pixels = false;  // decode, transform and batch the images (requires image_root)
  ImageTransformOptions image_transform;
  bool augment_images = true;  // random crop and flip (training); false: centre crop, no flip

  bool skip_bad = false;  // skip images whose files are missing or corrupt, and count them
  // With skip_bad: called with each skipped image's error ("<file>: <problem>"), on the thread that
  // loads the batch (e.g. to print a warning at once).
  std::function<void(const std::string&)> on_skip;
};

class CaptionBatchLoader {
 public:
  // Keeps a copy of the split's images. Throws std::invalid_argument for bad options and DataError
  // when the split has no images.
  CaptionBatchLoader(const KarpathyDataset& dataset, const Vocabulary& vocabulary, CaptionBatchOptions options);

  // Restart at the beginning of `epoch`; the image order is a function of (seed, epoch) only.
  void start_epoch(int64_t epoch);
  // The next batch of this epoch, or nullopt when the epoch is over.
  std::optional<CaptionBatch> next_batch();

  int64_t image_count() const { return static_cast<int64_t>(images_.size()); }
  int64_t batches_per_epoch() const;
  int64_t epoch() const { return epoch_; }
  // Images skipped so far (skip_bad), and why.
  int64_t skipped_count() const { return static_cast<int64_t>(skipped_reasons_.size()); }
  const std::vector<std::string>& skipped_reasons() const { return skipped_reasons_; }

 private:
  struct LoadedImage {
    const KarpathyImage* image = nullptr;
    std::optional<RegionFeatures> features;
    std::optional<PreparedImage> pixels;
    ImageSize size;
  };
  LoadedImage load_image(const KarpathyImage& image);
  ImageSize image_size_of(const KarpathyImage& image, const std::optional<RgbImage>& decoded);
  void add_captions(const KarpathyImage& image, CaptionBatch& batch);
  CaptionBatch assemble(const std::vector<LoadedImage>& loaded);

  std::vector<KarpathyImage> images_;
  const Vocabulary vocabulary_;
  CaptionBatchOptions options_;
  std::vector<size_t> order_;
  size_t position_ = 0;
  int64_t epoch_ = 0;
  Generator sampling_random_;  // caption choice and augmentation, per epoch
  std::vector<std::string> skipped_reasons_;
  std::map<int64_t, ImageSize> image_sizes_;  // read from image headers once, by imgid
};

}  // namespace sparsecap::data
