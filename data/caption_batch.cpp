#include "data/caption_batch.h"

#include <algorithm>

#include "data/data_error.h"

namespace sparsecap::data {

namespace {
// Two Philox streams per epoch: one orders the images, one picks captions and augmentations, so
// the order does not change when, say, seq_per_img does.
constexpr uint64_t kOrderStream = 0;
constexpr uint64_t kSamplingStream = 1;
uint64_t epoch_stream(int64_t epoch, uint64_t purpose) { return static_cast<uint64_t>(epoch) * 2 + purpose; }
}  // namespace

CaptionBatchLoader::CaptionBatchLoader(const KarpathyDataset& dataset, const Vocabulary& vocabulary,
                                       CaptionBatchOptions options)
    : vocabulary_(vocabulary), options_(std::move(options)) {
  if (options_.images_per_batch < 1)
    throw std::invalid_argument("images_per_batch must be >= 1, got " + std::to_string(options_.images_per_batch));
  if (options_.seq_per_img < 1)
    throw std::invalid_argument("seq_per_img must be >= 1, got " + std::to_string(options_.seq_per_img));
  if (options_.leading_references < 0)
    throw std::invalid_argument("leading_references must be >= 0, got " + std::to_string(options_.leading_references));
  if (options_.load_pixels && !options_.image_root)
    throw std::invalid_argument("load_pixels needs an image_root to read the images from");
  for (const size_t index : dataset.indices_of_split(options_.split)) images_.push_back(dataset.images[index]);
  if (images_.empty())
    throw DataError(dataset.dataset_name.empty() ? "dataset" : dataset.dataset_name,
                    std::string("the ") + split_name(options_.split) + " split has no images");
  start_epoch(0);
}

void CaptionBatchLoader::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  position_ = 0;
  order_.resize(images_.size());
  for (size_t i = 0; i < order_.size(); ++i) order_[i] = i;
  if (options_.shuffle) {
    Generator order_random(options_.seed, epoch_stream(epoch, kOrderStream));
    for (size_t i = order_.size() - 1; i > 0; --i) std::swap(order_[i], order_[order_random.next_below(i + 1)]);
  }
  sampling_random_ = Generator(options_.seed, epoch_stream(epoch, kSamplingStream));
}

int64_t CaptionBatchLoader::batches_per_epoch() const {
  const int64_t count = image_count();
  return options_.drop_last ? count / options_.images_per_batch
                            : (count + options_.images_per_batch - 1) / options_.images_per_batch;
}

ImageSize CaptionBatchLoader::image_size_of(const KarpathyImage& image, const std::optional<RgbImage>& decoded) {
  if (image.width && image.height) return {*image.width, *image.height};
  if (decoded) return {decoded->width, decoded->height};
  if (const auto cached = image_sizes_.find(image.imgid); cached != image_sizes_.end()) return cached->second;
  if (options_.image_root)
    return image_sizes_[image.imgid] = read_image_size(*options_.image_root / image.relative_image_path());
  throw DataError(image.filename, "image size unknown: the split file has no width/height for imgid " +
                                      std::to_string(image.imgid) +
                                      " and no image root was given to read it from the image");
}

CaptionBatchLoader::LoadedImage CaptionBatchLoader::load_image(const KarpathyImage& image) {
  if (image.sentences.empty())
    throw DataError(image.filename, "imgid " + std::to_string(image.imgid) + " has no captions");
  LoadedImage loaded;
  loaded.image = &image;
  std::optional<RgbImage> decoded;
  if (options_.load_pixels) {
    decoded = read_image_file(*options_.image_root / image.relative_image_path());
    loaded.pixels = prepare_image(*decoded, options_.image_transform, options_.augment_images ? &sampling_random_ : nullptr);
  }
  if (options_.region_features) {
    loaded.features = load_region_features(*options_.region_features, image.feature_id());
    if (!loaded.features->boxes.empty()) loaded.size = image_size_of(image, decoded);
  }
  return loaded;
}

void CaptionBatchLoader::add_captions(const KarpathyImage& image, CaptionBatch& batch) {
  // More references than seq_per_img: a random subset; fewer: all of them, then random repeats.
  size_t available = image.sentences.size();
  if (options_.leading_references > 0) available = std::min(available, static_cast<size_t>(options_.leading_references));
  std::vector<size_t> chosen(available);
  for (size_t i = 0; i < available; ++i) chosen[i] = i;
  for (size_t i = available - 1; i > 0; --i) std::swap(chosen[i], chosen[sampling_random_.next_below(i + 1)]);
  const auto wanted = static_cast<size_t>(options_.seq_per_img);
  if (chosen.size() > wanted) chosen.resize(wanted);
  while (chosen.size() < wanted) chosen.push_back(sampling_random_.next_below(available));

  for (const size_t sentence : chosen) {
    const std::vector<int64_t> encoded = vocabulary_.encode(image.sentences[sentence].tokens, options_.encoding);
    for (int64_t t = 0; t < batch.sequence_length; ++t) {
      const bool real = t < static_cast<int64_t>(encoded.size());
      batch.captions.push_back(real ? encoded[static_cast<size_t>(t)] : Vocabulary::kPad);
      batch.caption_mask.push_back(real ? 1.0f : 0.0f);
    }
    batch.caption_lengths.push_back(static_cast<int64_t>(encoded.size()) - 2);
  }
  std::vector<std::vector<std::string>> references;
  for (const auto& sentence : image.sentences) references.push_back(sentence.tokens);
  batch.references.push_back(std::move(references));
}

CaptionBatch CaptionBatchLoader::assemble(const std::vector<LoadedImage>& loaded) {
  CaptionBatch batch;
  batch.image_count = static_cast<int64_t>(loaded.size());
  batch.seq_per_img = options_.seq_per_img;
  batch.sequence_length = options_.encoding.max_words + 2;
  for (const LoadedImage& item : loaded) {
    batch.image_ids.push_back(item.image->feature_id());
    batch.image_paths.push_back(item.image->relative_image_path().string());
    add_captions(*item.image, batch);
  }

  if (options_.region_features) {
    batch.feature_dim = loaded.front().features->feature_dim;
    for (const LoadedImage& item : loaded) {
      if (item.features->feature_dim != batch.feature_dim)
        throw DataError(item.image->filename, "region feature dim " + std::to_string(item.features->feature_dim) +
                                                  " differs from " + std::to_string(batch.feature_dim) +
                                                  " of the other images in the batch");
      batch.max_regions = std::max(batch.max_regions, item.features->region_count);
    }
    const bool with_boxes = std::all_of(loaded.begin(), loaded.end(),
                                        [](const LoadedImage& item) { return !item.features->boxes.empty(); });
    const auto slots = static_cast<size_t>(batch.image_count * batch.max_regions);
    batch.region_features.assign(slots * static_cast<size_t>(batch.feature_dim), 0.0f);
    batch.region_mask.assign(slots, 0.0f);
    if (with_boxes) {
      batch.boxes.assign(slots * 4, 0.0f);
      batch.relative_boxes.assign(slots * 4, 0.0f);
    }
    for (size_t i = 0; i < loaded.size(); ++i) {
      const RegionFeatures& features = *loaded[i].features;
      const size_t first_slot = i * static_cast<size_t>(batch.max_regions);
      std::copy(features.att.begin(), features.att.end(),
                batch.region_features.begin() + static_cast<std::ptrdiff_t>(first_slot * batch.feature_dim));
      std::fill_n(batch.region_mask.begin() + static_cast<std::ptrdiff_t>(first_slot), features.region_count, 1.0f);
      batch.region_counts.push_back(features.region_count);
      batch.fc_features.insert(batch.fc_features.end(), features.fc.begin(), features.fc.end());
      if (with_boxes) {
        const float width = static_cast<float>(loaded[i].size.width), height = static_cast<float>(loaded[i].size.height);
        for (size_t k = 0; k < features.boxes.size(); ++k) {
          batch.boxes[first_slot * 4 + k] = features.boxes[k];
          batch.relative_boxes[first_slot * 4 + k] = features.boxes[k] / (k % 2 == 0 ? width : height);
        }
      }
    }
  }

  if (options_.load_pixels) {
    batch.image_width = loaded.front().pixels->width;
    batch.image_height = loaded.front().pixels->height;
    for (const LoadedImage& item : loaded) {
      if (item.pixels->width != batch.image_width || item.pixels->height != batch.image_height)
        throw DataError(item.image->filename, "prepared image is " + std::to_string(item.pixels->width) + "x" +
                                                  std::to_string(item.pixels->height) + ", others in the batch are " +
                                                  std::to_string(batch.image_width) + "x" +
                                                  std::to_string(batch.image_height) +
                                                  " (set a resize or crop size so all images match)");
      batch.pixels.insert(batch.pixels.end(), item.pixels->chw.begin(), item.pixels->chw.end());
    }
  }
  return batch;
}

std::optional<CaptionBatch> CaptionBatchLoader::next_batch() {
  std::vector<LoadedImage> loaded;
  while (static_cast<int64_t>(loaded.size()) < options_.images_per_batch && position_ < order_.size()) {
    const KarpathyImage& image = images_[order_[position_++]];
    try {
      loaded.push_back(load_image(image));
    } catch (const DataError& error) {
      if (!options_.skip_bad) throw;
      skipped_reasons_.push_back(error.what());
      if (options_.on_skip) options_.on_skip(error.what());
    }
  }
  if (loaded.empty()) return std::nullopt;
  if (options_.drop_last && static_cast<int64_t>(loaded.size()) < options_.images_per_batch) return std::nullopt;
  return assemble(loaded);
}

}  // namespace sparsecap::data
