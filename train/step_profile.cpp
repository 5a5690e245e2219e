#include "train/step_profile.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "cuda/cuda_runtime_info.h"
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/cpu/cpu_info.h"
#include "engine/ops.h"
#include "train/batch_tensors.h"
#include "train/dataset_setup.h"
#include "train/trainer.h"

namespace sparsecap::train {

namespace {

namespace fs = std::filesystem;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The trainer writes its config, vocabulary and an empty log into a run directory; a profile
// keeps none of them.
class TemporaryRunDirectory {
 public:
  TemporaryRunDirectory()
      : path_(fs::temp_directory_path() /
              detail::concat("sparsecap_profile_", ::getpid(), "_",
                             std::chrono::steady_clock::now().time_since_epoch().count())) {}
  ~TemporaryRunDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TemporaryRunDirectory(const TemporaryRunDirectory&) = delete;
  TemporaryRunDirectory& operator=(const TemporaryRunDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string processor_of(Device device) {
  if (device.is_cpu()) return detail::concat(cpu::cpu_model(), ", ", cpu::thread_count(), " threads");
  for (const cuda::DeviceInfo& info : cuda::devices())
    if (info.index == device.index) return info.name;
  return device.str();
}

// The first batch of the training order, from a loader of its own (the trainer's stays where it is).
data::CaptionBatch first_training_batch(Trainer& trainer) {
  const RunConfig& config = trainer.config();
  data::CaptionBatchLoader loader(
      trainer.run_data().dataset, trainer.run_data().vocabulary,
      batch_options(config.data, trainer.model().input_kinds(), data::Split::Train, config.optim.seed, true));
  loader.start_epoch(0);
  std::optional<data::CaptionBatch> batch = loader.next_batch();
  SPARSECAP_CHECK(batch.has_value(), "profile: the training split of ", config.data.dir.string(), " gives no batch");
  return std::move(*batch);
}

// Times `step` call by call. The device finishes earlier work first, so the step's first call
// waits for nothing; the wall time runs until the device has finished the step's last call.
ProfiledStep profile_one(const std::string& name, Device device, const std::function<void()>& step) {
  backend_for(device).synchronize();
  profiling::BackendProfiler profiler(device);
  const double start = now_seconds();
  step();
  std::vector<profiling::KernelTotals> kernels = profiler.finish();
  return ProfiledStep{.name = name, .wall_seconds = now_seconds() - start, .kernels = std::move(kernels)};
}

// Row image * beam + slot holds image `image`, as beam search widens an encoded batch.
Tensor beam_rows(int64_t images, int64_t beam) {
  std::vector<int64_t> rows;
  rows.reserve(static_cast<size_t>(images * beam));
  for (int64_t image = 0; image < images; ++image)
    for (int64_t slot = 0; slot < beam; ++slot) rows.push_back(image);
  return from_vector(rows, {images * beam});
}

// The warm-up decode steps feed each step's most likely tokens to the next, as greedy decoding
// does; the profiled step is the one after them.
ProfiledStep profile_decode_step(models::Captioner& model, const models::CaptionerInputs& inputs, int64_t images,
                                 const StepProfileOptions& options) {
  model.eval();
  NoGradGuard no_grad;
  const Device device = model.decoding_device();
  std::unique_ptr<models::DecodingState> state = model.encode(inputs);
  state->select_rows(beam_rows(images, options.beam_size));
  Tensor tokens = full({images * options.beam_size}, static_cast<double>(model.special_tokens().bos), DType::I64, device);
  for (int64_t i = 0; i < options.warmup_steps; ++i) tokens = argmax(model.decode_step(*state, tokens), 1);
  return profile_one("decode step", device, [&] { model.decode_step(*state, tokens); });
}

}  // namespace

double ProfiledStep::kernel_seconds() const {
  double seconds = 0;
  for (const profiling::KernelTotals& kernel : kernels) seconds += kernel.seconds;
  return seconds;
}

StepProfile profile_steps(const RunConfig& config, const StepProfileOptions& options) {
  SPARSECAP_CHECK(options.warmup_steps >= 0, "profile: the warm-up step count must be >= 0, got ",
                  options.warmup_steps);
  SPARSECAP_CHECK(options.beam_size >= 1, "profile: the beam size must be >= 1, got ", options.beam_size);
  const TemporaryRunDirectory run_dir;
  Trainer trainer(config, TrainOptions{.run_dir = run_dir.path()});
  const Device device = trainer.device().device;
  const DeviceBatch batch = device_batch(first_training_batch(trainer), device);

  StepProfile profile;
  profile.device = device.str();
  profile.processor = processor_of(device);
  profile.model = trainer.model().type();
  profile.pruning = trainer.method().name();
  profile.images = batch.host.image_count;
  profile.captions_per_image = batch.host.seq_per_img;
  profile.beam_size = options.beam_size;
  profile.decode_rows = batch.host.image_count * options.beam_size;
  profile.warmup_steps = options.warmup_steps;
  profile.rates = profiling::measure_device_rates(device, options.rate_probe);

  for (int64_t i = 0; i < options.warmup_steps; ++i) trainer.step(batch);
  profile.training = profile_one("training step", device, [&] { trainer.step(batch); });
  profile.decoding = profile_decode_step(trainer.model(), batch.inputs, batch.host.image_count, options);
  return profile;
}

}  // namespace sparsecap::train
