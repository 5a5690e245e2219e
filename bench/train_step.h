#pragma once
// One Soft-Attention training step in Trainer::step's order, at the configuration of issue 16
// (MobileNet-V1 x0.5 at 64 px, LSTM 512, attention 512, embedding 256, vocabulary 1000, 32 images x
// 5 captions, Adam, clip 0.1), dense or with Supermask gates. Shared by bench_train and by
// bench_train_libtorch, which times the same step against its libtorch twin.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/clip.h"
#include "engine/optim/schedule.h"
#include "engine/rng.h"
#include "models/captioner_registry.h"
#include "models/soft_attention.h"
#include "pruning/method_registry.h"
#include "train/run_config.h"

namespace sparsecap::bench {

// The configuration.
inline constexpr int64_t kImages = 32, kSeqPerImage = 5, kImageSize = 64, kVocabulary = 1000, kMaxWords = 16;

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The model section of configs/sa_*.json: MobileNet-V1 x0.5 with the stride-8 blocks (an 8x8
// attention memory at 64 px), LSTM 512, attention 512, embedding 256. The vocabulary comes with
// the model's construction.
inline nlohmann::json soft_attention_section() {
  models::SoftAttentionConfig config;
  config.encoder.width_multiplier = 0.5;
  config.encoder.blocks = models::mobilenet_v1_stride8_blocks();
  config.decoder.cell = models::CellType::Lstm;
  config.decoder.hidden_size = 512;
  config.decoder.attention_size = 512;
  config.decoder.embedding_size = 256;
  nlohmann::json section = config;
  section.erase("tokens");
  section["decoder"].erase("vocabulary_size");
  section["type"] = "soft_attention";
  return section;
}

// "none" or Supermask with the reference's target (the step's cost does not depend on it).
inline nlohmann::json pruning_section(bool supermask) {
  return supermask ? nlohmann::json{{"method", "supermask"}, {"target_sparsity", 0.9}}
                   : nlohmann::json{{"method", "none"}};
}

// What one step reads, as host tensors: the trainer's batches arrive on the host too, so the bare
// step pays the same copy to the device.
struct StepBatch {
  Tensor images;    // F32 [images, 3, size, size]
  Tensor captions;  // I64 [images * seq_per_img, T]: BOS w.. EOS PAD..
  int64_t seq_per_img = kSeqPerImage;
};

// Random pixels and captions of 8..max_words words drawn from [4, vocabulary).
inline StepBatch random_batch(int64_t vocabulary, uint64_t seed) {
  const models::SpecialTokens tokens;
  const int64_t rows = kImages * kSeqPerImage, length = kMaxWords + 2;
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int64_t> word(4, vocabulary - 1), words(8, kMaxWords);
  std::vector<int64_t> captions(static_cast<size_t>(rows * length), tokens.pad);
  for (int64_t row = 0; row < rows; ++row) {
    int64_t* caption = captions.data() + row * length;
    const int64_t count = words(random);
    caption[0] = tokens.bos;
    for (int64_t i = 1; i <= count; ++i) caption[i] = word(random);
    caption[count + 1] = tokens.eos;
  }
  Generator generator(seed);
  return {.images = randn({kImages, 3, kImageSize, kImageSize}, generator),
          .captions = from_vector(captions, {rows, length})};
}

// A captioner on `device` with its optimizer and pruning method, stepping as Trainer::step does.
class TrainingStep {
 public:
  TrainingStep(const nlohmann::json& model_section, int64_t vocabulary, const nlohmann::json& pruning,
               const train::OptimConfig& optim, Device device, int64_t total_steps)
      : device_(device), clip_value_(optim.clip_value) {
    Generator initialisation(optim.seed);
    model_ = models::make_captioner(model_section, {.size = vocabulary, .tokens = {}}, initialisation);
    // Before the optimizer and the gates: both allocate their state on the parameters' device.
    model_->to(device);
    method_ = pruning::make_pruning_method(pruning, {.total_steps = total_steps, .seed = optim.seed});
    optimizer_ = std::make_unique<optim::Adam>(
        model_->parameters(), optim::cosine_schedule(optim.learning_rate, optim.learning_rate_floor, total_steps),
        optim::AdamOptions{.beta1 = optim.beta1, .beta2 = optim.beta2, .eps = optim.eps,
                           .weight_decay = optim.weight_decay});
    method_->begin(model_->prunable_parameters(), *optimizer_);
  }

  // Trainer::step's order, with its loss reads: before backward on the CPU (the divergence check),
  // none on a GPU, where the trainer reads the losses at log records only. The captions stay on
  // the host, as the trainer keeps them.
  void run(const StepBatch& batch) {
    ++step_;
    model_->train();
    method_->before_step(step_);
    optimizer_->zero_grad();
    const models::CaptionerInputs inputs(batch.images.to(device_));
    const Tensor caption_loss = model_->loss(inputs, batch.captions, batch.seq_per_img);
    Tensor total_loss = caption_loss;
    const Tensor extra = method_->extra_loss(step_);
    if (extra.defined()) total_loss = add(caption_loss, extra);
    if (device_.is_cpu() && (!std::isfinite(caption_loss.item()) || !std::isfinite(total_loss.item())))
      throw Error("bench_train: the loss is not finite at step " + std::to_string(step_));
    total_loss.backward();
    if (clip_value_ > 0) optim::clip_grad_value(optimizer_->parameters(), clip_value_);
    optimizer_->step();
    method_->after_optimizer_step(step_);
  }

  const models::Captioner& model() const { return *model_; }

 private:
  Device device_;
  double clip_value_;
  int64_t step_ = 0;
  std::unique_ptr<models::Captioner> model_;
  std::unique_ptr<pruning::PruningMethod> method_;
  std::unique_ptr<optim::Adam> optimizer_;
};

}  // namespace sparsecap::bench
