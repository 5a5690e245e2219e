#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include "data/prefetch.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/clip.h"
#include "engine/serialize/atomic_file.h"
#include "engine/serialize/safetensors.h"
#include "models/soft_attention.h"
#include "pruning/supermask.h"
#include "train/dataset_setup.h"
#include "train/evaluation.h"
#include "train/interrupt.h"
#include "train/progress.h"
#include "train/run_directory.h"
#include "train/training_checkpoint.h"

namespace sparsecap::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::unique_ptr<pruning::SupermaskPruning> make_method(const RunConfig& config, int64_t total_steps) {
  if (config.pruning.method != "supermask") return nullptr;
  pruning::SupermaskOptions options;
  options.target_sparsity = config.pruning.target_sparsity;
  options.sparsity_weight = config.pruning.sparsity_weight;
  options.total_steps = total_steps;
  options.gate_init = config.pruning.gate_init;
  options.gate_learning_rate = config.pruning.gate_learning_rate;
  options.gate_eps = config.pruning.gate_eps;
  options.seed = config.optim.seed;
  options.resample_per_call = config.pruning.resample_per_call;
  return std::make_unique<pruning::SupermaskPruning>(options);
}

// One "default" group, or with optim.encoder_learning_rate the decoder's parameters in it and the
// encoder's in an "encoder" group with their own LR and eps.
std::vector<optim::ParameterGroup> parameter_groups(models::SoftAttentionCaptioner& model, const OptimConfig& optim,
                                                    int64_t total_steps) {
  const auto schedule = [&](double peak) {
    return optim::cosine_schedule(peak, std::min(peak, optim.learning_rate_floor), total_steps);
  };
  if (optim.encoder_learning_rate <= 0) return {{.parameters = model.parameters(), .schedule = schedule(optim.learning_rate)}};
  return {{.parameters = model.decoder().parameters(), .schedule = schedule(optim.learning_rate)},
          {.name = "encoder",
           .parameters = model.encoder().parameters(),
           .schedule = schedule(optim.encoder_learning_rate),
           .eps = optim.encoder_eps}};
}

// The images and captions of a batch as engine tensors.
struct BatchTensors {
  Tensor images, captions;
};

BatchTensors to_tensors(const data::CaptionBatch& batch) {
  return {from_vector(batch.pixels, {batch.image_count, 3, batch.image_height, batch.image_width}),
          from_vector(batch.captions, {batch.image_count * batch.seq_per_img, batch.sequence_length})};
}

class JsonlLog {
 public:
  JsonlLog(const std::filesystem::path& path, bool append) : out_(path, append ? std::ios::app : std::ios::trunc) {
    SPARSECAP_CHECK(out_.good(), "cannot write the training log ", path.string());
  }
  void write(const nlohmann::json& record) {
    out_ << record.dump() << '\n';
    out_.flush();
  }

 private:
  std::ofstream out_;
};

// Skips `count` batches of the loader's current epoch (resume: the order is a function of the
// seed and the epoch, so the same batches follow).
void skip_batches(data::CaptionBatchLoader& loader, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    SPARSECAP_CHECK(loader.next_batch().has_value(), "resume: epoch ", loader.epoch(), " has fewer than ", count,
                    " batches");
}

}  // namespace

void load_encoder_weights(models::SoftAttentionCaptioner& model, const std::filesystem::path& path) {
  const SafetensorsContents contents = read_safetensors(path);
  std::map<std::string, Tensor> file;
  for (const auto& [name, tensor] : contents.tensors) file[name] = tensor;
  nn::StateDict weights;
  for (const auto& [name, current] : model.encoder().state_dict()) {
    const std::string bare = name.rfind("encoder.", 0) == 0 ? name.substr(8) : name;
    for (const std::string& key : {name, bare, "encoder." + bare}) {
      const auto found = file.find(key);
      if (found == file.end()) continue;
      weights[name] = found->second;
      break;
    }
  }
  try {
    model.encoder().load_state_dict(weights);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
}

int64_t total_training_steps(const RunConfig& config, int64_t batches_per_epoch) {
  return config.optim.max_steps > 0 ? config.optim.max_steps : config.optim.epochs * batches_per_epoch;
}

TrainSummary train_captioner(const RunConfig& requested, const TrainOptions& options) {
  const RunDirectory run{options.run_dir};
  std::filesystem::create_directories(run.checkpoints());
  SPARSECAP_CHECK(!options.resume || std::filesystem::exists(run.last_checkpoint()), "cannot resume: ",
                  run.last_checkpoint().string(), " does not exist");

  RunConfig config = requested;
  ensure_dataset(config.data, [](int64_t done, int64_t total) {
    if (done == total || done % 1000 == 0) std::fprintf(stderr, "generating the synthetic set: %lld/%lld images\n",
                                                        static_cast<long long>(done), static_cast<long long>(total));
  });
  const RunData run_data = load_run_data(config.data, run.vocabulary());
  config.model.decoder.vocabulary_size = run_data.vocabulary.size();
  config.model.validate();
  const nlohmann::json resolved = config;
  if (!options.resume) write_file_atomically(run.config(), resolved.dump(2) + "\n");

  Generator initialisation(config.optim.seed);
  models::SoftAttentionCaptioner model(config.model, initialisation);
  if (!config.init.encoder_weights.empty() && !options.resume) load_encoder_weights(model, config.init.encoder_weights);
  data::CaptionBatchLoader loader(run_data.dataset, run_data.vocabulary,
                                  batch_options(config.data, data::Split::Train, config.optim.seed, true));
  const int64_t total_steps = total_training_steps(config, loader.batches_per_epoch());
  optim::Adam adam(parameter_groups(model, config.optim, total_steps),
                   optim::AdamOptions{.beta1 = config.optim.beta1,
                                      .beta2 = config.optim.beta2,
                                      .eps = config.optim.eps,
                                      .weight_decay = config.optim.weight_decay});
  const std::unique_ptr<pruning::SupermaskPruning> method = make_method(config, total_steps);
  if (method) method->begin(model, adam);
  const TrainingParts parts{&model, &adam, method.get(), &model.dropout_generator()};

  RunPosition position;
  if (options.resume) position = load_training_checkpoint(run.last_checkpoint(), parts);
  JsonlLog log(run.log(), options.resume);
  InterruptGuard interrupt;
  ProgressBar progress(method ? "train (supermask)" : "train (dense)", total_steps);

  TrainSummary summary;
  summary.best_validation_cider = position.best_validation_cider;
  double training_seconds = 0, window_seconds = 0;
  int64_t session_images = 0, window_images = 0;
  const auto session_start = Clock::now();

  auto save_last = [&] { save_training_checkpoint(run.last_checkpoint(), parts, position, resolved); };
  auto validate = [&] {
    const SplitCaptions captions =
        caption_split(model, run_data.dataset, run_data.vocabulary, config.data, data::Split::Val,
                      config.schedule.validation_images, 1, config.model.decoding.max_words);
    const double cider = validation_cider(captions);
    nlohmann::json record = {{"step", position.step}, {"validation_cider", cider},
                             {"validation_images", captions.image_ids.size()}};
    bool sparsity_reached = true;
    if (method) {
      const double sparsity = method->gate_sparsity().sparsity();
      sparsity_reached = std::abs(sparsity - config.pruning.target_sparsity) <= config.pruning.tolerance;
      record["sparsity"] = sparsity;
    }
    if (cider > position.best_validation_cider && sparsity_reached) {
      position.best_validation_cider = cider;
      save_training_checkpoint(run.best_checkpoint(), parts, position, resolved);
      record["best"] = true;
    }
    log.write(record);
  };

  loader.start_epoch(position.epoch);
  skip_batches(loader, position.batch_in_epoch);
  auto prefetcher = std::make_unique<data::Prefetcher<data::CaptionBatch>>([&] { return loader.next_batch(); });
  double last_loss = 0;
  while (position.step < total_steps) {
    std::optional<data::CaptionBatch> batch = prefetcher->next();
    if (!batch) {  // end of the epoch
      prefetcher.reset();
      ++position.epoch;
      position.batch_in_epoch = 0;
      loader.start_epoch(position.epoch);
      prefetcher = std::make_unique<data::Prefetcher<data::CaptionBatch>>([&] { return loader.next_batch(); });
      continue;
    }
    const auto step_start = Clock::now();
    ++position.step;
    ++position.batch_in_epoch;
    model.train();
    if (method) method->before_step(position.step);
    adam.zero_grad();
    const BatchTensors tensors = to_tensors(*batch);
    const Tensor caption_loss = model.loss(tensors.images, tensors.captions, batch->seq_per_img);
    Tensor total_loss = caption_loss;
    if (method) {
      const Tensor extra = method->extra_loss(position.step);
      if (extra.defined()) total_loss = add(caption_loss, extra);
    }
    last_loss = caption_loss.item();
    const double total_value = total_loss.item();
    if (!std::isfinite(last_loss) || !std::isfinite(total_value)) {
      const bool saved = std::filesystem::exists(run.last_checkpoint());
      throw TrainingDiverged(detail::concat(
          "the loss became ", std::isfinite(last_loss) ? total_value : last_loss, " at step ", position.step,
          "; training stopped. ",
          saved ? "The last good checkpoint is " + run.last_checkpoint().string() + " (resume with --resume)"
                : "No checkpoint had been saved yet",
          ". Try a lower learning rate or gradient clipping."));
    }
    total_loss.backward();
    if (config.optim.clip_value > 0) optim::clip_grad_value(adam.parameters(), config.optim.clip_value);
    if (config.optim.clip_norm > 0) optim::clip_grad_norm(adam.parameters(), config.optim.clip_norm);
    adam.step();
    if (method) method->after_optimizer_step(position.step);
    const double step_seconds = seconds_since(step_start);
    training_seconds += step_seconds;
    window_seconds += step_seconds;
    session_images += batch->image_count;
    window_images += batch->image_count;

    if (position.step % config.schedule.log_every == 0 || position.step == total_steps) {
      nlohmann::json record = method ? method->statistics_record(position.step, last_loss)
                                     : nlohmann::json{{"step", position.step}, {"caption_loss", last_loss}};
      record["epoch"] = position.epoch;
      record["total_loss"] = total_value;
      record["learning_rate"] = adam.learning_rate(0);
      record["images_per_second"] = window_seconds > 0 ? static_cast<double>(window_images) / window_seconds : 0.0;
      record["elapsed_seconds"] = seconds_since(session_start);
      log.write(record);
      window_seconds = 0;
      window_images = 0;
    }
    char status[160];
    std::snprintf(status, sizeof status, "loss %.3f | %.1f img/s", last_loss,
                  training_seconds > 0 ? static_cast<double>(session_images) / training_seconds : 0.0);
    progress.update(position.step, status);
    if (position.step % config.schedule.validate_every == 0 || position.step == total_steps) validate();
    if (position.step % config.schedule.checkpoint_every == 0) save_last();
    if (InterruptGuard::requested() || position.step == options.stop_at_step) {
      prefetcher.reset();
      save_last();
      summary.interrupted = true;
      break;
    }
  }
  prefetcher.reset();
  progress.finish();
  if (!summary.interrupted) {
    save_last();
    save_training_checkpoint(run.final_checkpoint(), parts, position, resolved);
  }
  summary.steps = position.step;
  summary.wall_seconds = seconds_since(session_start);
  summary.images_per_second = training_seconds > 0 ? static_cast<double>(session_images) / training_seconds : 0.0;
  summary.final_loss = last_loss;
  summary.best_validation_cider = position.best_validation_cider;
  if (method) summary.sparsity = method->gate_sparsity().sparsity();
  return summary;
}

}  // namespace sparsecap::train
