#include "train/trained_run.h"

#include <fstream>

#include "data/image.h"
#include "models/captioner_registry.h"
#include "pruning/method_registry.h"
#include "train/frozen_encoder.h"
#include "train/run_directory.h"
#include "train/training_checkpoint.h"

namespace sparsecap::train {

TrainedRun load_trained_run(const std::filesystem::path& run_dir, const std::optional<std::filesystem::path>& checkpoint,
                            bool allow_non_finite) {
  const RunDirectory run{run_dir};
  SPARSECAP_CHECK(std::filesystem::exists(run.config()), run_dir.string(), " is not a run directory (no ",
                  run.config().filename().string(), ")");
  TrainedRun trained;
  trained.config = load_run_config(run.config());
  trained.checkpoint = checkpoint.value_or(run.evaluation_checkpoint());
  SPARSECAP_CHECK(std::filesystem::exists(run.vocabulary()), "run directory ", run_dir.string(), " has no ",
                  run.vocabulary().filename().string());
  trained.data = load_run_data(trained.config.data, run.vocabulary());
  Generator generator(trained.config.optim.seed);
  trained.model = models::make_captioner(trained.config.model, captioner_vocabulary(trained.data.vocabulary), generator);
  // The run's method restores its state (gates, masks) from the checkpoint and bakes it in.
  const std::unique_ptr<pruning::PruningMethod> method =
      pruning::make_pruning_method(trained.config.pruning, pruning::PruningRunInfo{.seed = trained.config.optim.seed});
  method->attach(pruned_parameters(*trained.model, trained.config));
  load_training_checkpoint(trained.checkpoint, TrainingParts{trained.model.get(), nullptr, method.get(), nullptr},
                           allow_non_finite);
  method->finalize();
  trained.pruned = method->name() != "none";
  trained.model->eval();
  trained.sparsity = pruning::weight_sparsity(pruned_parameters(*trained.model, trained.config));
  return trained;
}

Tensor load_images_for_captioning(const std::vector<std::filesystem::path>& paths, const DataConfig& config) {
  SPARSECAP_CHECK(!paths.empty(), "no images to caption");
  const int size = static_cast<int>(config.image_size);
  std::vector<float> pixels;
  for (const auto& path : paths) {
    const data::RgbImage image = data::resize_image(data::read_image_file(path), size, size);
    const std::vector<float> chw = data::normalize_to_chw(image);
    pixels.insert(pixels.end(), chw.begin(), chw.end());
  }
  return from_vector(pixels, {static_cast<int64_t>(paths.size()), 3, config.image_size, config.image_size});
}

}  // namespace sparsecap::train
