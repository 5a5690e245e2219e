#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "data/data_error.h"
#include "data/prefetch.h"
#include "engine/autograd.h"
#include "engine/crash_point.h"
#include "engine/ops.h"
#include "engine/optim/clip.h"
#include "engine/serialize/atomic_file.h"
#include "engine/serialize/safetensors.h"
#include "models/captioner_registry.h"
#include "pruning/method_registry.h"
#include "train/batch_tensors.h"
#include "train/evaluation.h"
#include "train/frozen_encoder.h"
#include "train/frozen_feature_cache.h"
#include "train/interrupt.h"
#include "train/learning_rate_schedule.h"
#include "train/progress.h"
#include "train/region_feature_statistics.h"

namespace sparsecap::train {

namespace {

// Training images whose regions give a standardizer's statistics: enough for stable per-dimension
// moments (tens of thousands of regions), and a COCO run reads 2 000 of its 113 287 files.
constexpr int64_t kRegionStatisticsImages = 2000;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// One "default" group, or with optim.encoder_learning_rate everything but the encoder in it and
// the encoder's parameters in an "encoder" group with their own LR and eps: Adam's eps 1e-2 (the
// papers' for LSTM captioners) turns the encoder's small gradients into plain gradient descent
// with rate lr / eps, and a CNN trained from scratch then barely moves. With optim.freeze_encoder
// the encoder is in no group.
// The default group follows optim.schedule (train/learning_rate_schedule.h); the encoder group a
// cosine from its own peak. With a restart at step r > 1 (pruning/method.h) both start afresh at r.
std::vector<optim::ParameterGroup> parameter_groups(const models::Captioner& model, const RunConfig& config,
                                                    int64_t total_steps, int64_t restart_step) {
  const OptimConfig& settings = config.optim;
  const optim::SchedulePtr main_schedule = main_learning_rate_schedule(config, total_steps, restart_step);
  const std::shared_ptr<nn::Module> encoder = encoder_of(model);
  if (settings.freeze_encoder)
    return {{.parameters = without_encoder(model.parameters(), model), .schedule = main_schedule}};
  if (settings.encoder_learning_rate <= 0) return {{.parameters = model.parameters(), .schedule = main_schedule}};
  SPARSECAP_CHECK(encoder != nullptr, "optim.encoder_learning_rate is set, but the ", model.type(),
                  " captioner has no encoder module");
  return {{.parameters = without_encoder(model.parameters(), model), .schedule = main_schedule},
          {.name = "encoder",
           .parameters = encoder->parameters(),
           .schedule = cosine_run_schedule(settings.encoder_learning_rate, settings.learning_rate_floor, total_steps,
                                           restart_step),
           .eps = settings.encoder_eps}};
}

// Skips `count` batches of the loader's current epoch (resume: the order is a function of the
// seed and the epoch, so the same batches follow).
void skip_batches(data::CaptionBatchLoader& loader, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    SPARSECAP_CHECK(loader.next_batch().has_value(), "resume: epoch ", loader.epoch(), " has fewer than ", count,
                    " batches");
}

void report_generation(int64_t done, int64_t total) {
  if (done == total || done % 1000 == 0)
    std::fprintf(stderr, "generating the synthetic set: %lld/%lld images\n", static_cast<long long>(done),
                 static_cast<long long>(total));
}

std::string progress_label(const pruning::PruningMethod& method) {
  return "train (" + (method.name() == "none" ? std::string("dense") : method.name()) + ")";
}

}  // namespace

void load_encoder_weights(models::Captioner& model, const std::filesystem::path& path) {
  const std::shared_ptr<nn::Module> encoder = encoder_of(model);
  SPARSECAP_CHECK(encoder != nullptr, path.string(), ": init.encoder_weights is set, but the ", model.type(),
                  " captioner has no encoder module");
  const SafetensorsContents contents = read_safetensors(path);
  std::map<std::string, Tensor> file;
  for (const auto& [name, tensor] : contents.tensors) file[name] = tensor;
  nn::StateDict weights;
  for (const auto& [name, current] : encoder->state_dict()) {
    const std::string bare = name.rfind("encoder.", 0) == 0 ? name.substr(8) : name;
    for (const std::string& key : {name, bare, "encoder." + bare}) {
      const auto found = file.find(key);
      if (found == file.end()) continue;
      weights[name] = found->second;
      break;
    }
  }
  try {
    encoder->load_state_dict(weights);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
}

// Temp files ("<file>.tmp.<pid>") that a killed session left half written; the files they were
// to replace are whole (engine/serialize/atomic_file.h), so the temp files are only litter.
static void remove_leftover_temp_files(const RunDirectory& run) {
  for (const std::filesystem::path& directory : {run.root, run.checkpoints()}) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
      if (entry.is_regular_file() && entry.path().filename().string().find(".tmp.") != std::string::npos)
        std::filesystem::remove(entry.path(), error);
    }
  }
}

int64_t total_training_steps(const RunConfig& config, int64_t batches_per_epoch) {
  return config.optim.max_steps > 0 ? config.optim.max_steps : config.optim.epochs * batches_per_epoch;
}

Trainer::Trainer(const RunConfig& config, const TrainOptions& options)
    : config_(resolve_run_config(config)),
      options_(options),
      device_(choose_device(config_.device)),
      defer_loss_reads_(options.defer_loss_reads.value_or(!device_.device.is_cpu())),
      run_{options.run_dir} {
  std::fprintf(stderr, "sparsecap: training on %s\n", device_.describe().c_str());
  std::filesystem::create_directories(run_.checkpoints());
  SPARSECAP_CHECK(!options_.resume || std::filesystem::exists(run_.last_checkpoint()), "cannot resume: ",
                  run_.last_checkpoint().string(), " does not exist");
  remove_leftover_temp_files(run_);  // also when a run killed before its first checkpoint starts again
  ensure_dataset(config_.data, report_generation);
  run_data_ = load_run_data(config_.data, run_.vocabulary());
  resolved_ = config_;
  if (!options_.resume) write_file_atomically(run_.config(), resolved_.dump(2) + "\n");

  Generator initialisation(config_.optim.seed);
  model_ = models::make_captioner(config_.model, captioner_vocabulary(run_data_.vocabulary), initialisation);
  if (!config_.init.encoder_weights.empty() && !options_.resume)
    load_encoder_weights(*model_, config_.init.encoder_weights);
  // A resumed run gets the statistics back from its checkpoint.
  if (!options_.resume)
    standardize_region_features(*model_, run_data_.dataset, data::RegionFeatureLayout::under_root(config_.data.dir),
                                kRegionStatisticsImages);
  if (config_.optim.freeze_encoder) {
    SPARSECAP_CHECK(options_.resume || !config_.init.encoder_weights.empty(),
                    "optim.freeze_encoder is set without init.encoder_weights: a frozen encoder must start from "
                    "pre-trained weights (sparsecap pretrain-encoder)");
    freeze_encoder(*model_);
  }
  // Before the method and the optimizer exist: gates and Adam's moments are made on the
  // parameters' device, and a checkpoint loads into tensors already there.
  model_->to(device_.device);
  // A frozen encoder's output is a function of the pixels alone; nothing of it goes into a
  // checkpoint, a resumed run computes the same values again.
  if (uses_frozen_feature_cache(*model_, config_))
    frozen_features_ =
        std::make_unique<FrozenFeatureCache>(*model_, config_.optim.frozen_feature_cache_mb * (int64_t{1} << 20));
  data::CaptionBatchOptions training_batches =
      batch_options(config_.data, model_->input_kinds(), data::Split::Train, config_.optim.seed, true);
  training_batches.skip_bad = options_.skip_bad;
  training_batches.on_skip = [](const std::string& problem) {
    std::fprintf(stderr, "\nsparsecap: warning: skipped %s\n", problem.c_str());
  };
  loader_ = std::make_unique<data::CaptionBatchLoader>(run_data_.dataset, run_data_.vocabulary, training_batches);
  total_steps_ = total_training_steps(config_, loader_->batches_per_epoch());
  method_ = pruning::make_pruning_method(config_.pruning,
                                         pruning::PruningRunInfo{.total_steps = total_steps_,
                                                                 .seed = config_.optim.seed,
                                                                 .steps_per_epoch = loader_->batches_per_epoch()});
  optimizer_ = std::make_unique<optim::Adam>(
      parameter_groups(*model_, config_, total_steps_, method_->restart_step()),
      optim::AdamOptions{.beta1 = config_.optim.beta1,
                         .beta2 = config_.optim.beta2,
                         .eps = config_.optim.eps,
                         .weight_decay = config_.optim.weight_decay});
  method_->begin(pruned_parameters(*model_, config_), *optimizer_);
  if (options_.resume)
    position_ = load_training_checkpoint(
        run_.last_checkpoint(),
        TrainingParts{model_.get(), optimizer_.get(), method_.get(), &model_->dropout_generator()});
  const std::optional<int64_t> resume_step = options_.resume ? std::optional(position_.step) : std::nullopt;
  log_ = std::make_unique<TrainingLog>(run_.log(), resume_step);
  if (!options_.resume)  // a run started afresh in this directory: no events of an earlier attempt
    for (const auto& old : tensorboard_event_files(run_.root)) std::filesystem::remove(old);
  tensorboard_ = std::make_unique<TensorBoardWriter>(run_.root, resume_step);
}

void Trainer::enter_training_mode() {
  model_->train();
  // A frozen encoder normalises with its pre-trained running statistics and leaves them as they are.
  if (config_.optim.freeze_encoder) encoder_of(*model_)->eval();
}

void Trainer::write_record(const nlohmann::json& record) {
  log_->write(record);
  tensorboard_->write_record(record);
}

void Trainer::write_histograms() {
  NoGradGuard no_grad;
  for (const nn::ParameterPtr& weight : model_->prunable_parameters())
    tensorboard_->write_histogram("weights/" + weight->name(), weight->value().to_vector<float>(), position_.step);
  for (const auto& [tag, tensor] : method_->histogram_tensors())
    tensorboard_->write_histogram(tag, tensor.to_vector<float>(), position_.step);
}

Trainer::~Trainer() = default;

void Trainer::save_checkpoint(const std::filesystem::path& path) {
  try {
    save_training_checkpoint(path,
                             TrainingParts{model_.get(), optimizer_.get(), method_.get(), &model_->dropout_generator()},
                             position_, resolved_);
  } catch (const Error& error) {
    // The write goes to a temp file that is renamed only when complete, so the old file is whole.
    throw Error(detail::concat(error.what(), "; checkpoint of step ", position_.step, " not saved, ",
                               std::filesystem::exists(path) ? "the previous " + path.string() + " is unchanged"
                                                             : "no earlier " + path.string() + " exists"));
  }
}

void Trainer::throw_diverged(const StepLosses& losses, int64_t first_step) const {
  const bool saved = std::filesystem::exists(run_.last_checkpoint());
  const double shown = !std::isfinite(losses.caption) ? losses.caption : losses.total;
  const std::string when =
      first_step == position_.step
          ? detail::concat("the loss became ", shown, " at step ", position_.step)
          : detail::concat("the loss became non-finite at a step from ", first_step, " to ", position_.step,
                           " (on ", device_.device.str(),
                           " the losses are read only at log records, validations, checkpoints and histograms)");
  throw TrainingDiverged(detail::concat(
      when, "; training stopped. ",
      saved ? "The last good checkpoint is " + run_.last_checkpoint().string() + " (resume with --resume)"
            : "No checkpoint had been saved yet",
      ". Try a lower learning rate or gradient clipping."));
}

models::CaptionerInputs Trainer::training_inputs(const DeviceBatch& batch) {
  return frozen_features_ ? frozen_features_->fill(batch.host, batch.inputs) : batch.inputs;
}

StepLosses Trainer::step(const data::CaptionBatch& batch) { return step(device_batch(batch, device_.device)); }

StepLosses Trainer::step(const DeviceBatch& batch) {
  if (position_.step == 0 && method_->initial_gradient_batches() > 0) observe_initial_gradients();
  keep_unread(train_step(batch));
  return read_losses();
}

StepLossTensors Trainer::train_step(const DeviceBatch& batch) {
  ++position_.step;
  ++position_.batch_in_epoch;
  enter_training_mode();
  method_->before_step(position_.step);
  if (position_.step == method_->restart_step()) optimizer_->reset_state();
  optimizer_->zero_grad();
  wait_for_inputs(batch);
  const Tensor caption_loss = model_->loss(training_inputs(batch), batch.captions, batch.host.seq_per_img);
  Tensor total_loss = caption_loss;
  const Tensor extra = method_->extra_loss(position_.step);
  if (extra.defined()) total_loss = add(caption_loss, extra);
  if (!defer_loss_reads_) {
    const StepLosses losses{.caption = caption_loss.item(), .total = total_loss.item()};
    if (!std::isfinite(losses.caption) || !std::isfinite(losses.total)) throw_diverged(losses, position_.step);
  }
  total_loss.backward();
  crash_point("step");  // tests: killed between backward and the optimizer step
  if (config_.optim.clip_value > 0) optim::clip_grad_value(optimizer_->parameters(), config_.optim.clip_value);
  if (config_.optim.clip_norm > 0) {
    if (defer_loss_reads_)
      optim::clip_grad_norm_on_device(optimizer_->parameters(), config_.optim.clip_norm);
    else
      optim::clip_grad_norm(optimizer_->parameters(), config_.optim.clip_norm);
  }
  optimizer_->step();
  method_->after_optimizer_step(position_.step);
  return {caption_loss.detach(), total_loss.detach()};
}

void Trainer::keep_unread(const StepLossTensors& losses) {
  NoGradGuard no_grad;
  if (!unread_total_sum_.defined()) {
    first_unread_step_ = position_.step;
    unread_total_sum_ = losses.total;
  } else {
    unread_total_sum_ = add(unread_total_sum_, losses.total);  // NaN or infinite once any step's was
  }
  last_losses_ = losses;
}

StepLosses Trainer::read_losses() {
  if (!unread_total_sum_.defined()) return read_;
  NoGradGuard no_grad;
  // One copy to the host (one synchronisation) for the three values.
  const std::vector<double> values =
      stack({last_losses_.caption.reshape({1}), last_losses_.total.reshape({1}), unread_total_sum_.reshape({1})}, 0)
          .to_vector<double>();
  read_ = StepLosses{.caption = values[0], .total = values[1]};
  unread_total_sum_ = Tensor();
  if (!std::isfinite(values[0]) || !std::isfinite(values[1]) || !std::isfinite(values[2]))
    throw_diverged(read_, first_unread_step_);
  return read_;
}

void Trainer::log_step(const StepLosses& losses) {
  nlohmann::json record = method_->statistics_record(position_.step, losses.caption);
  record["epoch"] = position_.epoch;
  record["total_loss"] = losses.total;
  record["learning_rate"] = optimizer_->learning_rate(0);
  // Every group's rate by name ("default", "encoder", "gates"): TensorBoard's learning_rate/<group>.
  nlohmann::json rates = nlohmann::json::object();
  for (size_t i = 0; i < optimizer_->groups().size(); ++i) rates[optimizer_->groups()[i].name] = optimizer_->learning_rate(i);
  record["learning_rates"] = rates;
  record["images_per_second"] = window_seconds_ > 0 ? static_cast<double>(window_images_) / window_seconds_ : 0.0;
  record["device"] = device_.device.str();  // where images_per_second was measured (a run may move)
  record["elapsed_seconds"] = now_seconds() - session_start_;
  write_record(record);
  window_seconds_ = 0;
  window_images_ = 0;
}

void Trainer::validate() {
  const SplitCaptions captions =
      caption_split(*model_, run_data_.dataset, run_data_.vocabulary, config_.data, data::Split::Val,
                    config_.schedule.validation_images, 1, model_->decoding_options().max_words);
  const double cider = validation_cider(captions);
  crash_point("validation");  // tests: killed after decoding, before the record is written
  nlohmann::json record = {{"step", position_.step}, {"validation_cider", cider},
                           {"validation_images", captions.image_ids.size()}};
  if (method_->target_sparsity()) record["sparsity"] = method_->sparsity().sparsity();
  if (cider > position_.best_validation_cider && method_->target_reached()) {
    position_.best_validation_cider = cider;
    save_checkpoint(run_.best_checkpoint());
    record["best"] = true;
  }
  write_record(record);
}

void Trainer::observe_initial_gradients() {
  const int64_t count = method_->initial_gradient_batches();
  // The first `count` batches of epoch 0 from a loader of their own, so the training order and a
  // resume's batch skipping are unchanged.
  data::CaptionBatchLoader loader(
      run_data_.dataset, run_data_.vocabulary,
      batch_options(config_.data, model_->input_kinds(), data::Split::Train, config_.optim.seed, true));
  loader.start_epoch(0);
  enter_training_mode();
  for (int64_t i = 0; i < count; ++i) {
    const std::optional<data::CaptionBatch> batch = loader.next_batch();
    SPARSECAP_CHECK(batch.has_value(), "pruning method ", method_->name(), " asks for ", count,
                    " batches before training; an epoch has ", loader.batches_per_epoch());
    optimizer_->zero_grad();
    const DeviceBatch on_device = device_batch(std::move(*batch), device_.device);
    wait_for_inputs(on_device);
    model_->loss(training_inputs(on_device), on_device.captions, on_device.host.seq_per_img).backward();
    method_->observe_initial_gradients();
  }
  optimizer_->zero_grad();
}

TrainSummary Trainer::run() {
  InterruptGuard interrupt;
  if (position_.step == 0 && method_->initial_gradient_batches() > 0) observe_initial_gradients();
  ProgressBar progress(progress_label(*method_), total_steps_);
  TrainSummary summary;
  session_start_ = now_seconds();
  loader_->start_epoch(position_.epoch);
  skip_batches(*loader_, position_.batch_in_epoch);
  // The prefetch thread also puts each batch on the device, so its copy is queued while the
  // previous step computes.
  auto next_batch = [this]() -> std::optional<DeviceBatch> {
    std::optional<data::CaptionBatch> batch = loader_->next_batch();
    if (!batch) return std::nullopt;
    return device_batch(std::move(*batch), device_.device);
  };
  auto prefetcher = std::make_unique<data::Prefetcher<DeviceBatch>>(next_batch);
  StepLosses losses;
  // A file that goes bad mid-run (corrupt, deleted) stops training naming it and where to resume.
  auto next_or_explain = [&]() -> std::optional<DeviceBatch> {
    try {
      return prefetcher->next();
    } catch (const data::DataError& error) {
      const bool saved = std::filesystem::exists(run_.last_checkpoint());
      throw Error(detail::concat(error.what(), "; training stopped at step ", position_.step, ", ",
                                 saved ? "the last checkpoint " + run_.last_checkpoint().string() + " is intact"
                                       : std::string("no checkpoint had been saved yet"),
                                 " (fix or remove the file, or train with --skip-bad)"));
    }
  };
  while (position_.step < total_steps_) {
    std::optional<DeviceBatch> batch = next_or_explain();
    if (!batch) {  // end of the epoch
      prefetcher.reset();
      ++position_.epoch;
      position_.batch_in_epoch = 0;
      loader_->start_epoch(position_.epoch);
      prefetcher = std::make_unique<data::Prefetcher<DeviceBatch>>(next_batch);
      continue;
    }
    const double step_start = now_seconds();
    keep_unread(train_step(*batch));
    const bool log_now = position_.step % config_.schedule.log_every == 0 || position_.step == total_steps_;
    const bool validate_now =
        position_.step % config_.schedule.validate_every == 0 || position_.step == total_steps_;
    const bool checkpoint_now = position_.step % config_.schedule.checkpoint_every == 0;
    const bool histograms_now =
        config_.schedule.histogram_every > 0 && position_.step % config_.schedule.histogram_every == 0;
    // Deferred reads happen wherever the losses are reported or the weights written out, so no
    // checkpoint or histogram is written after a non-finite loss.
    if (!defer_loss_reads_ || log_now || validate_now || checkpoint_now || histograms_now) losses = read_losses();
    // With deferred reads a step's time is that of queuing it; the read at the log record waits
    // for the device, so the window's images/s is right.
    const double step_seconds = now_seconds() - step_start;
    session_seconds_ += step_seconds;
    window_seconds_ += step_seconds;
    session_images_ += batch->host.image_count;
    window_images_ += batch->host.image_count;

    if (log_now) log_step(losses);
    char status[160];
    std::snprintf(status, sizeof status, "loss %.3f | %.1f img/s", losses.caption,
                  session_seconds_ > 0 ? static_cast<double>(session_images_) / session_seconds_ : 0.0);
    progress.update(position_.step, status);
    if (histograms_now) write_histograms();
    if (validate_now) validate();
    if (checkpoint_now) save_checkpoint(run_.last_checkpoint());
    if (InterruptGuard::requested() || position_.step == options_.stop_at_step) {
      prefetcher.reset();
      losses = read_losses();
      save_checkpoint(run_.last_checkpoint());
      summary.interrupted = true;
      break;
    }
  }
  prefetcher.reset();
  progress.finish();
  if (!summary.interrupted) {
    save_checkpoint(run_.last_checkpoint());
    save_checkpoint(run_.final_checkpoint());
  }
  summary.steps = position_.step;
  summary.wall_seconds = now_seconds() - session_start_;
  summary.images_per_second = session_seconds_ > 0 ? static_cast<double>(session_images_) / session_seconds_ : 0.0;
  summary.final_loss = losses.caption;
  summary.best_validation_cider = position_.best_validation_cider;
  summary.sparsity = method_->sparsity().sparsity();
  return summary;
}

TrainSummary train_captioner(const RunConfig& config, const TrainOptions& options) {
  return Trainer(config, options).run();
}

}  // namespace sparsecap::train
