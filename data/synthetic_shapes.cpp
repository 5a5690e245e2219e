// Writing the synthetic shapes set: each image generated from its own streams (scene, pixels,
// captions, regions; the other data/shapes_*.cpp files), then PNGs, .npy features, the
// Karpathy-split JSON and the scene file written by a pool of threads.
#include "data/synthetic_shapes.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/file_io.h"
#include "data/npy.h"
#include "data/shapes_scene_file.h"
#include "data/tokenize.h"

namespace sparsecap::data {

namespace {

namespace fs = std::filesystem;

void require_valid(const SyntheticShapesOptions& options) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("synthetic shapes: " + what); };
  if (options.image_count < 1) fail("image count must be >= 1, got " + std::to_string(options.image_count));
  if (options.image_size < 16) fail("image size must be >= 16 pixels, got " + std::to_string(options.image_size));
  if (options.feature_dim < 1) fail("feature dim must be >= 1, got " + std::to_string(options.feature_dim));
  if (options.captions_per_image < 1)
    fail("captions per image must be >= 1, got " + std::to_string(options.captions_per_image));
  if (options.train_fraction < 0 || options.val_fraction < 0 || options.train_fraction + options.val_fraction > 1)
    fail("train and val fractions must be >= 0 and sum to <= 1, got " + std::to_string(options.train_fraction) +
         " and " + std::to_string(options.val_fraction));
}

std::string image_filename(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof(name), "shapes_%06lld.png", static_cast<long long>(index));
  return name;
}

}  // namespace

Split split_of_index(const SyntheticShapesOptions& options, int64_t index) {
  const auto total = static_cast<double>(options.image_count);
  const auto train_end = static_cast<int64_t>(std::llround(total * options.train_fraction));
  const auto val_end = train_end + static_cast<int64_t>(std::llround(total * options.val_fraction));
  if (index < train_end) return Split::Train;
  if (index < val_end) return Split::Val;
  return Split::Test;
}

SyntheticImage generate_synthetic_image(const SyntheticShapesOptions& options, int64_t index) {
  require_valid(options);
  SyntheticImage result;
  result.index = index;
  result.split = split_of_index(options, index);
  result.scene = sample_scene(options.seed, index, options.image_size);
  result.image = render_scene(result.scene, options.seed, index);
  for (const auto& raw : describe_scene(result.scene, options.seed, index, options.captions_per_image))
    result.captions.push_back(Sentence{tokenize_caption(raw), raw});
  result.regions = propose_regions(result.scene, options.seed, index);
  const auto dim = static_cast<size_t>(options.feature_dim);
  result.fc_feature.assign(dim, 0.0f);
  for (const Region& region : result.regions) {
    const auto descriptor = box_descriptor(result.image, region.box, options.feature_dim);
    result.region_features.insert(result.region_features.end(), descriptor.begin(), descriptor.end());
    for (size_t d = 0; d < dim; ++d) result.fc_feature[d] += descriptor[d];
  }
  for (float& value : result.fc_feature) value /= static_cast<float>(result.regions.size());
  return result;
}

SynthesisSummary write_synthetic_shapes(const fs::path& out_dir, const SyntheticShapesOptions& options,
                                        const std::function<void(int64_t, int64_t)>& progress) {
  require_valid(options);
  for (const char* sub : {"images", "cocobu_att", "cocobu_fc", "cocobu_box"}) fs::create_directories(out_dir / sub);

  struct Written {
    Split split = Split::Train;
    std::vector<Sentence> captions;
    Scene scene;
    std::vector<Region> regions;
  };
  const int64_t total = options.image_count;
  std::vector<Written> written(static_cast<size_t>(total));
  std::atomic<int64_t> next_index{0}, done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;

  auto work = [&] {
    try {
      for (int64_t i = next_index++; i < total && !failed; i = next_index++) {
        SyntheticImage generated = generate_synthetic_image(options, i);
        const std::string id = std::to_string(i);
        const auto regions = static_cast<int64_t>(generated.regions.size());
        std::vector<float> boxes;
        for (const Region& region : generated.regions)
          boxes.insert(boxes.end(), {region.box.x0, region.box.y0, region.box.x1, region.box.y1});
        write_file_bytes_in_place(out_dir / "images" / image_filename(i), encode_png(generated.image));
        write_file_bytes_in_place(out_dir / "cocobu_att" / (id + ".npy"),
                                  encode_npy_float32({regions, options.feature_dim}, generated.region_features));
        write_file_bytes_in_place(out_dir / "cocobu_fc" / (id + ".npy"),
                                  encode_npy_float32({options.feature_dim}, generated.fc_feature));
        write_file_bytes_in_place(out_dir / "cocobu_box" / (id + ".npy"), encode_npy_float32({regions, 4}, boxes));
        written[static_cast<size_t>(i)] = Written{generated.split, std::move(generated.captions),
                                                  std::move(generated.scene), std::move(generated.regions)};
        ++done;
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      failed = true;
    }
  };
  // Twice the cores by default: each image ends in four small file writes, and the extra threads
  // keep the cores busy while others wait on the file system.
  const int threads =
      options.threads > 0 ? options.threads : std::max(1, 2 * static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back(work);
  while (done < total && !failed) {
    if (progress) progress(done, total);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& worker : workers) worker.join();
  if (first_error) std::rethrow_exception(first_error);
  if (progress) progress(done, total);

  KarpathyDataset dataset;
  dataset.dataset_name = "shapes";
  nlohmann::json scenes = nlohmann::json::array();
  SynthesisSummary summary;
  for (int64_t i = 0; i < total; ++i) {
    Written& entry = written[static_cast<size_t>(i)];
    KarpathyImage image;
    image.filepath = "images";
    image.filename = image_filename(i);
    image.split = entry.split;
    image.imgid = i;
    image.width = options.image_size;
    image.height = options.image_size;
    image.sentences = std::move(entry.captions);
    summary.captions += static_cast<int64_t>(image.sentences.size());
    summary.regions += static_cast<int64_t>(entry.regions.size());
    dataset.images.push_back(std::move(image));

    scenes.push_back(scene_record(i, entry.scene, entry.regions));
  }
  summary.images = total;
  summary.json_path = out_dir / "dataset_shapes.json";
  write_karpathy_json(dataset, summary.json_path);
  write_file_text(out_dir / kShapesScenesFile,
                  nlohmann::json({{"seed", options.seed},
                                  {"image_size", options.image_size},
                                  {"caption_grammar", kShapesCaptionGrammar},
                                  {"scenes", std::move(scenes)}})
                      .dump());
  return summary;
}

}  // namespace sparsecap::data
