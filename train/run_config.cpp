#include "train/run_config.h"

#include <cmath>
#include <fstream>
#include <limits>

#include "engine/error.h"
#include "engine/json_fields.h"
#include "engine/json_input.h"
#include "models/captioner_registry.h"
#include "pruning/method_registry.h"
#include "train/device_choice.h"

namespace sparsecap::train {

using nlohmann::json;

namespace {

// Bounds a config may not cross: beyond them a run fails later and less clearly (image_size
// 100000 ends in std::bad_alloc when the first batch is allocated).
constexpr int64_t kMaxImageSize = 4096;
constexpr int64_t kMaxBatchImages = 1 << 16;
constexpr int64_t kMaxSequencesPerImage = 1000;
constexpr int64_t kMaxWords = 1000;
constexpr int64_t kMaxSyntheticImages = int64_t{1} << 32;
constexpr int64_t kMaxFeatureCacheMiB = int64_t{1} << 30;  // 1 PiB: its size in bytes fits an int64
constexpr double kMaxReal = std::numeric_limits<double>::max();

void check_range(const char* section, const char* key, int64_t value, int64_t low, int64_t high) {
  SPARSECAP_CHECK(value >= low && value <= high, section, ".", key, " must be in [", low, ", ", high, "], got ",
                  value);
}

// Also rejects NaN and infinity.
void check_real_range(const char* section, const char* key, double value, double low, double high) {
  SPARSECAP_CHECK(std::isfinite(value) && value >= low && value <= high, section, ".", key, " must be in [", low,
                  ", ", high, "], got ", value);
}

// Seeds are unsigned; nlohmann would wrap -1 around to 2^64 - 1 silently.
void check_unsigned(const json& j, const char* section, const char* key) {
  if (j.contains(key) && j.at(key).is_number_integer())
    SPARSECAP_CHECK(j.at(key).is_number_unsigned(), section, ".", key, " must be >= 0, got ", j.at(key).dump());
}

void check_positive(const char* section, const char* key, double value) {
  SPARSECAP_CHECK(std::isfinite(value) && value > 0, section, ".", key, " must be a positive number, got ", value);
}

json data_to_json(const DataConfig& d) {
  return {{"dir", d.dir.string()},           {"split_file", d.split_file},   {"synthetic_images", d.synthetic_images},
          {"synthetic_seed", d.synthetic_seed}, {"image_size", d.image_size}, {"augment", d.augment},
          {"min_word_count", d.min_word_count}, {"max_words", d.max_words},   {"images_per_batch", d.images_per_batch},
          {"seq_per_img", d.seq_per_img}, {"train_references", d.train_references}};
}

void data_from_json(const json& j, DataConfig& d) {
  check_known_keys(j, {"dir", "split_file", "synthetic_images", "synthetic_seed", "image_size", "augment",
                       "min_word_count", "max_words", "images_per_batch", "seq_per_img", "train_references"},
                   "data");
  std::string dir = d.dir.string();
  read_field(j, "dir", dir, "data");
  d.dir = dir;
  read_field(j, "split_file", d.split_file, "data");
  read_field(j, "synthetic_images", d.synthetic_images, "data");
  check_unsigned(j, "data", "synthetic_seed");
  read_field(j, "synthetic_seed", d.synthetic_seed, "data");
  read_field(j, "image_size", d.image_size, "data");
  read_field(j, "augment", d.augment, "data");
  read_field(j, "min_word_count", d.min_word_count, "data");
  read_field(j, "max_words", d.max_words, "data");
  read_field(j, "images_per_batch", d.images_per_batch, "data");
  read_field(j, "seq_per_img", d.seq_per_img, "data");
  read_field(j, "train_references", d.train_references, "data");
  check_range("data", "image_size", d.image_size, 1, kMaxImageSize);
  check_range("data", "images_per_batch", d.images_per_batch, 1, kMaxBatchImages);
  check_range("data", "seq_per_img", d.seq_per_img, 1, kMaxSequencesPerImage);
  check_range("data", "train_references", d.train_references, 0, kMaxSequencesPerImage);
  check_range("data", "max_words", d.max_words, 1, kMaxWords);
  check_range("data", "min_word_count", d.min_word_count, 0, std::numeric_limits<int64_t>::max());
  check_range("data", "synthetic_images", d.synthetic_images, 0, kMaxSyntheticImages);
}

json optim_to_json(const OptimConfig& o) {
  return {{"epochs", o.epochs},     {"max_steps", o.max_steps},       {"schedule", o.schedule},
          {"learning_rate", o.learning_rate}, {"learning_rate_floor", o.learning_rate_floor},
          {"warmup_steps", o.warmup_steps}, {"noam_factor", o.noam_factor}, {"beta1", o.beta1}, {"beta2", o.beta2},
          {"eps", o.eps},           {"weight_decay", o.weight_decay}, {"clip_value", o.clip_value},
          {"clip_norm", o.clip_norm}, {"encoder_learning_rate", o.encoder_learning_rate},
          {"encoder_eps", o.encoder_eps}, {"freeze_encoder", o.freeze_encoder},
          {"frozen_feature_cache_mb", o.frozen_feature_cache_mb}, {"seed", o.seed}};
}

void optim_from_json(const json& j, OptimConfig& o) {
  check_known_keys(j, {"epochs", "max_steps", "schedule", "learning_rate", "learning_rate_floor", "warmup_steps",
                       "noam_factor", "beta1", "beta2", "eps",
                       "weight_decay", "clip_value", "clip_norm", "encoder_learning_rate", "encoder_eps", "freeze_encoder",
                       "frozen_feature_cache_mb", "seed"},
                   "optim");
  read_field(j, "epochs", o.epochs, "optim");
  read_field(j, "max_steps", o.max_steps, "optim");
  read_field(j, "schedule", o.schedule, "optim");
  read_field(j, "learning_rate", o.learning_rate, "optim");
  read_field(j, "learning_rate_floor", o.learning_rate_floor, "optim");
  read_field(j, "warmup_steps", o.warmup_steps, "optim");
  read_field(j, "noam_factor", o.noam_factor, "optim");
  read_field(j, "beta1", o.beta1, "optim");
  read_field(j, "beta2", o.beta2, "optim");
  read_field(j, "eps", o.eps, "optim");
  read_field(j, "weight_decay", o.weight_decay, "optim");
  read_field(j, "clip_value", o.clip_value, "optim");
  read_field(j, "clip_norm", o.clip_norm, "optim");
  read_field(j, "encoder_learning_rate", o.encoder_learning_rate, "optim");
  read_field(j, "encoder_eps", o.encoder_eps, "optim");
  read_field(j, "freeze_encoder", o.freeze_encoder, "optim");
  read_field(j, "frozen_feature_cache_mb", o.frozen_feature_cache_mb, "optim");
  check_unsigned(j, "optim", "seed");
  read_field(j, "seed", o.seed, "optim");
  SPARSECAP_CHECK(o.epochs > 0 || o.max_steps > 0, "optim: epochs or max_steps must be positive");
  SPARSECAP_CHECK(o.epochs >= 0 && o.max_steps >= 0, "optim: epochs and max_steps must be >= 0, got ", o.epochs, " and ",
                  o.max_steps);
  check_positive("optim", "learning_rate", o.learning_rate);
  check_real_range("optim", "learning_rate_floor", o.learning_rate_floor, 0, o.learning_rate);
  check_real_range("optim", "beta1", o.beta1, 0, std::nextafter(1.0, 0.0));
  check_real_range("optim", "beta2", o.beta2, 0, std::nextafter(1.0, 0.0));
  check_positive("optim", "eps", o.eps);
  check_real_range("optim", "weight_decay", o.weight_decay, 0, kMaxReal);
  check_real_range("optim", "clip_value", o.clip_value, 0, kMaxReal);
  check_real_range("optim", "clip_norm", o.clip_norm, 0, kMaxReal);
  check_real_range("optim", "encoder_learning_rate", o.encoder_learning_rate, 0, kMaxReal);
  check_positive("optim", "encoder_eps", o.encoder_eps);
  check_range("optim", "frozen_feature_cache_mb", o.frozen_feature_cache_mb, 0, kMaxFeatureCacheMiB);
  SPARSECAP_CHECK(!(o.freeze_encoder && o.encoder_learning_rate > 0),
                  "optim: freeze_encoder and encoder_learning_rate exclude each other (a frozen encoder has no learning "
                  "rate); set one of them");
  SPARSECAP_CHECK(o.schedule == "cosine" || o.schedule == "noam", "optim.schedule must be \"cosine\" or \"noam\", got \"",
                  o.schedule, "\"");
  SPARSECAP_CHECK(o.warmup_steps > 0 && o.noam_factor > 0, "optim: warmup_steps and noam_factor must be positive, got ",
                  o.warmup_steps, " and ", o.noam_factor);
}

json schedule_to_json(const ScheduleConfig& s) {
  return {{"log_every", s.log_every},
          {"validate_every", s.validate_every},
          {"validation_images", s.validation_images},
          {"checkpoint_every", s.checkpoint_every},
          {"histogram_every", s.histogram_every}};
}

void schedule_from_json(const json& j, ScheduleConfig& s) {
  check_known_keys(j, {"log_every", "validate_every", "validation_images", "checkpoint_every", "histogram_every"},
                   "schedule");
  read_field(j, "log_every", s.log_every, "schedule");
  read_field(j, "validate_every", s.validate_every, "schedule");
  read_field(j, "validation_images", s.validation_images, "schedule");
  read_field(j, "checkpoint_every", s.checkpoint_every, "schedule");
  read_field(j, "histogram_every", s.histogram_every, "schedule");
  SPARSECAP_CHECK(s.histogram_every >= 0, "schedule.histogram_every must be >= 0 (0: no histograms), got ",
                  s.histogram_every);
  SPARSECAP_CHECK(s.log_every > 0 && s.validate_every > 0 && s.checkpoint_every > 0,
                  "schedule: log_every, validate_every and checkpoint_every must be positive");
}

}  // namespace

void to_json(json& j, const RunConfig& c) {
  j = {{"device", c.device},
       {"model", c.model},
       {"init", {{"encoder_weights", c.init.encoder_weights}}},
       {"data", data_to_json(c.data)},
       {"optim", optim_to_json(c.optim)},
       {"pruning", c.pruning},
       {"schedule", schedule_to_json(c.schedule)}};
}

void from_json(const json& j, RunConfig& c) {
  check_known_keys(j, {"device", "model", "init", "data", "optim", "pruning", "schedule"}, "config");
  read_field(j, "device", c.device, "config");
  check_device_spec(c.device);
  if (j.contains("init")) {
    check_known_keys(j.at("init"), {"encoder_weights"}, "init");
    read_field(j.at("init"), "encoder_weights", c.init.encoder_weights, "init");
  }
  if (j.contains("model")) c.model = j.at("model");
  if (j.contains("data")) data_from_json(j.at("data"), c.data);
  if (j.contains("optim")) optim_from_json(j.at("optim"), c.optim);
  if (j.contains("pruning")) c.pruning = j.at("pruning");
  if (j.contains("schedule")) schedule_from_json(j.at("schedule"), c.schedule);
}

RunConfig resolve_run_config(RunConfig config) {
  config.model = models::resolve_captioner_config(config.model);
  config.pruning = pruning::resolve_pruning_config(config.pruning);
  return config;
}

void apply_override(json& document, const std::string& assignment) {
  const auto equals = assignment.find('=');
  SPARSECAP_CHECK(equals != std::string::npos && equals > 0, "--set expects key=value, got \"", assignment, "\"");
  const std::string key = assignment.substr(0, equals), text = assignment.substr(equals + 1);
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) value = text;  // not JSON: a plain string such as gru
  json* node = &document;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    SPARSECAP_CHECK(!part.empty(), "--set ", assignment, ": empty key part");
    if (dot == std::string::npos) {
      (*node)[part] = value;  // unknown leaf keys are caught when the document is parsed
      return;
    }
    if (!node->contains(part)) (*node)[part] = json::object();
    node = &(*node)[part];
    SPARSECAP_CHECK(node->is_object(), "--set ", assignment, ": ", key.substr(0, dot), " is not a section");
    start = dot + 1;
  }
}

RunConfig parse_run_config(json document, const std::vector<std::string>& overrides) {
  for (const std::string& assignment : overrides) apply_override(document, assignment);
  RunConfig config;
  from_json(document, config);
  return resolve_run_config(std::move(config));
}

RunConfig load_run_config(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  json document = read_json_file(path);
  try {
    return parse_run_config(std::move(document), overrides);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
}

}  // namespace sparsecap::train
