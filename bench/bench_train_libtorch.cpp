// Issue 22's CPU target: the Soft-Attention training step of bench_train (bench/train_step.h) at
// least 2x as fast in sparsecap as the same step written in libtorch 1.13, at 2 threads, dense and
// with Supermask gates. The libtorch twin below builds the same model from the same config (the
// parameter counts are checked to be equal), reads the same batch and steps in the same order:
// forward, the loss read before backward, backward, clip by value, Adam with the same groups and
// learning rates. Both engines run in this one process, their timed steps interleaved so that a
// burst of load from other processes falls on both.
//
// The twin is written as the Supermask paper's PyTorch code is: every weight matrix, convolution
// and embedding w computes as w * ST(Bernoulli(sigmoid(s))) from unfused tensor ops, one draw per
// step, and the sparsity loss |target - (1 - sum [s > 0] / N)| passes its gradient straight
// through the rounding. The dense twin computes with the parameters themselves.
//
// A benchmark-only dependency: CMake builds this program only where find_package(Torch) succeeds
// (Debian: apt-get install libtorch-dev). See docs/performance.md.
//
// Usage: bench_train_libtorch [--warmup N] [--steps N] [--threads N]
// Defaults: 2 untimed warm-up steps and 7 timed steps per engine and case (the median is reported),
// 2 threads.
// Exit status: 0 when both cases reach the target; 1 when one misses it; 2 for a bad option; 3 when
// the two models' parameter counts differ (then the comparison means nothing).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "bench/train_step.h"
#include "engine/backend.h"
#include "engine/cpu/cpu_info.h"
#include "pruning/sparsity_loss.h"
#include "pruning/supermask.h"

namespace sparsecap::bench {
namespace {

namespace F = torch::nn::functional;

// The bar: libtorch's time per step over sparsecap's.
constexpr double kTarget = 2.0;

struct Options {
  int warmup = 2;
  int steps = 7;
  int threads = 2;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr, "bench_train_libtorch: %s\nusage: bench_train_libtorch [--warmup N] [--steps N] [--threads N]\n",
               problem.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage("missing value after " + flag);
    const int value = std::atoi(argv[++i]);
    if (flag == "--warmup") options.warmup = value;
    else if (flag == "--steps") options.steps = value;
    else if (flag == "--threads") options.threads = value;
    else usage("unknown option " + flag);
  }
  if (options.warmup < 0 || options.steps < 1 || options.threads < 1)
    usage("--warmup must be >= 0, --steps and --threads >= 1");
  return options;
}

// bench_train's model section with the vocabulary filled in, as make_captioner reads it.
models::SoftAttentionConfig soft_attention_config() {
  nlohmann::json section = soft_attention_section();
  section.erase("type");
  models::SoftAttentionConfig config = section.get<models::SoftAttentionConfig>();
  config.decoder.vocabulary_size = kVocabulary;
  config.validate();
  return config;
}

// ---- the libtorch twin ----

// The Supermask gates of the twin: one logit tensor per prunable weight, and the effective weight
// w * ST(Bernoulli(sigmoid(s))) as the paper's PyTorch code writes it.
class TorchGates {
 public:
  TorchGates(const std::vector<torch::Tensor>& weights, double gate_init) {
    for (const torch::Tensor& weight : weights) {
      torch::Tensor gate = torch::full_like(weight, gate_init).requires_grad_(true);
      gate_of_[weight.unsafeGetTensorImpl()] = gate;
      gates_.push_back(gate);
    }
  }

  const std::vector<torch::Tensor>& gates() const { return gates_; }

  // The weight a layer computes with this step: a fresh mask per call, so call it once per weight
  // and step (the model fetches its weights once at the start of its forward).
  torch::Tensor effective(const torch::Tensor& weight) const {
    const torch::Tensor probability = torch::sigmoid(gate_of_.at(weight.unsafeGetTensorImpl()));
    const torch::Tensor keep = torch::bernoulli(probability.detach());
    // Straight-through: the value is the 0/1 draw, the gradient is the probability's.
    return weight * ((keep - probability).detach() + probability);
  }

  // |target - s| with s = 1 - sum [s > 0] / N over all gates, the rounding straight-through.
  torch::Tensor sparsity_loss(double target) const {
    torch::Tensor kept = torch::zeros({});
    int64_t total = 0;
    for (const torch::Tensor& gate : gates_) {
      const torch::Tensor probability = torch::sigmoid(gate);
      const torch::Tensor rounded = (gate.gt(0).to(torch::kFloat) - probability).detach() + probability;
      kept = kept + rounded.sum();
      total += gate.numel();
    }
    return torch::abs(target - (1.0 - kept / static_cast<double>(total)));
  }

 private:
  std::map<const c10::TensorImpl*, torch::Tensor> gate_of_;
  std::vector<torch::Tensor> gates_;
};

// Conv (no bias) -> batch norm -> ReLU, depthwise then pointwise, as models/mobilenet.cpp.
struct TorchSeparableBlock : torch::nn::Module {
  TorchSeparableBlock(int64_t in, int64_t out, int64_t stride_) : stride(stride_) {
    depthwise = register_module(
        "depthwise", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, in, 3).padding(1).groups(in).bias(false)));
    depthwise_bn = register_module("depthwise_bn", torch::nn::BatchNorm2d(in));
    pointwise = register_module("pointwise", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).bias(false)));
    pointwise_bn = register_module("pointwise_bn", torch::nn::BatchNorm2d(out));
  }
  int64_t stride;
  torch::nn::Conv2d depthwise{nullptr}, pointwise{nullptr};
  torch::nn::BatchNorm2d depthwise_bn{nullptr}, pointwise_bn{nullptr};
};

// A weight as a layer computes with it: gated when there are gates, the parameter itself else.
using EffectiveWeight = std::function<torch::Tensor(const torch::Tensor&)>;

torch::nn::Linear xavier_linear(int64_t in, int64_t out) {
  torch::nn::Linear layer(in, out);
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(layer->weight);
  layer->bias.zero_();
  return layer;
}

// models/soft_attention.{h,cpp} and models/mobilenet.{h,cpp} in torch::nn modules, with the same
// layer names, shapes and initialisation rules.
class TorchSoftAttention : public torch::nn::Module {
 public:
  explicit TorchSoftAttention(const models::SoftAttentionConfig& config) : config_(config) {
    const models::MobileNetConfig& e = config.encoder;
    const models::SoftAttentionDecoderConfig& d = config.decoder;
    const int64_t stem_channels = e.scaled(e.stem_channels);
    stem_ = register_module("stem", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, stem_channels, 3)
                                                          .stride(e.stem_stride)
                                                          .padding(1)
                                                          .bias(false)));
    stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(stem_channels));
    stages_ = register_module("stages", torch::nn::ModuleList());
    int64_t channels = stem_channels;
    for (const models::SeparableBlockSpec& spec : e.blocks) {
      const int64_t out = e.scaled(spec.channels);
      blocks_.push_back(std::make_shared<TorchSeparableBlock>(channels, out, spec.stride));
      stages_->push_back(blocks_.back());
      channels = out;
    }
    const int64_t memory = channels, hidden = d.hidden_size, attention = d.attention_size;
    embedding_ = register_module("embedding", torch::nn::Embedding(d.vocabulary_size, d.embedding_size));
    att_key_ = register_module("att_key", xavier_linear(memory, attention));
    att_query_ = register_module("att_query", xavier_linear(hidden, attention));
    att_qk_ = register_module("att_qk", xavier_linear(attention, 1));
    lstm_ = register_module("lstm", torch::nn::LSTMCell(d.embedding_size + memory, hidden));
    init_h_ = register_module("init_h", xavier_linear(memory, hidden));
    init_c_ = register_module("init_c", xavier_linear(memory, hidden));
    logit_ = register_module("logit", xavier_linear(hidden, d.vocabulary_size));
    torch::NoGradGuard no_grad;
    torch::nn::init::xavier_uniform_(embedding_->weight);
    torch::nn::init::xavier_uniform_(lstm_->weight_ih);
    torch::nn::init::xavier_uniform_(lstm_->weight_hh);
    lstm_->bias_ih.zero_();
    lstm_->bias_hh.zero_();
    lstm_->bias_ih.narrow(0, hidden, hidden).fill_(d.forget_bias);  // gates i, f, g, o: f's slice
  }

  // What sparsecap prunes (engine/nn/parameter.cpp is_prunable): convolution, linear and cell
  // weights and the embedding; not biases or batch norms.
  std::vector<torch::Tensor> prunable_weights() const {
    std::vector<torch::Tensor> weights = {stem_->weight};
    for (const auto& block : blocks_) {
      weights.push_back(block->depthwise->weight);
      weights.push_back(block->pointwise->weight);
    }
    for (const torch::Tensor& w : {embedding_->weight, att_key_->weight, att_query_->weight, att_qk_->weight,
                                   lstm_->weight_ih, lstm_->weight_hh, init_h_->weight, init_c_->weight,
                                   logit_->weight})
      weights.push_back(w);
    return weights;
  }

  // images [B, 3, H, W], captions int64 [B * seq_per_img, L] -> the masked mean cross-entropy, as
  // SoftAttentionCaptioner::loss.
  torch::Tensor loss(const torch::Tensor& images, const torch::Tensor& captions, int64_t seq_per_img,
                     const EffectiveWeight& effective) {
    const int64_t pad = config_.tokens.pad;
    const torch::Tensor trimmed = trim_padding_columns(captions, pad);
    const torch::Tensor logits = decode(encode(images, effective), trimmed, seq_per_img, effective);
    const int64_t used = trimmed.size(1);
    return F::cross_entropy(logits.reshape({-1, logits.size(2)}), trimmed.narrow(1, 1, used - 1).reshape({-1}),
                            F::CrossEntropyFuncOptions().ignore_index(pad));
  }

 private:
  // The trailing columns that are PAD in every caption (at least two kept), as the engine's
  // trim_padding_columns: read on the host.
  static torch::Tensor trim_padding_columns(const torch::Tensor& captions, int64_t pad) {
    const auto tokens = captions.accessor<int64_t, 2>();
    int64_t used = 2;
    for (int64_t row = 0; row < captions.size(0); ++row)
      for (int64_t column = 0; column < captions.size(1); ++column)
        if (tokens[row][column] != pad) used = std::max(used, column + 1);
    return used == captions.size(1) ? captions : captions.narrow(1, 0, used);
  }

  // images -> the attention memory [B, h*w, C].
  torch::Tensor encode(const torch::Tensor& images, const EffectiveWeight& effective) {
    const models::MobileNetConfig& e = config_.encoder;
    torch::Tensor x = torch::relu(stem_bn_->forward(
        F::conv2d(images, effective(stem_->weight), F::Conv2dFuncOptions().stride(e.stem_stride).padding(1))));
    for (const auto& block : blocks_) {
      const int64_t channels = x.size(1);
      x = torch::relu(block->depthwise_bn->forward(
          F::conv2d(x, effective(block->depthwise->weight),
                    F::Conv2dFuncOptions().stride(block->stride).padding(1).groups(channels))));
      x = torch::relu(block->pointwise_bn->forward(F::conv2d(x, effective(block->pointwise->weight))));
    }
    return x.flatten(2).transpose(1, 2);
  }

  // SoftAttentionDecoder::forward_teacher_forced: memory [B, P, C], captions [N, L] -> logits
  // [N, L - 1, V].
  torch::Tensor decode(const torch::Tensor& memory, const torch::Tensor& captions, int64_t seq_per_img,
                       const EffectiveWeight& effective) {
    const double dropout = config_.decoder.dropout;
    // Each weight once per step: a gate draws one mask per training step, as the engine's.
    const torch::Tensor embedding = effective(embedding_->weight), key = effective(att_key_->weight),
                        query = effective(att_query_->weight), qk = effective(att_qk_->weight),
                        w_ih = effective(lstm_->weight_ih), w_hh = effective(lstm_->weight_hh),
                        init_h = effective(init_h_->weight), init_c = effective(init_c_->weight),
                        logit = effective(logit_->weight);
    // Keys and initial states per image, then repeated for each of its captions.
    const torch::Tensor keys = F::linear(memory, key, att_key_->bias).repeat_interleave(seq_per_img, 0);
    const torch::Tensor mean_memory = memory.mean(1);
    torch::Tensor h = torch::tanh(F::linear(mean_memory, init_h, init_h_->bias)).repeat_interleave(seq_per_img, 0);
    torch::Tensor c = torch::tanh(F::linear(mean_memory, init_c, init_c_->bias)).repeat_interleave(seq_per_img, 0);
    const torch::Tensor expanded_memory = memory.repeat_interleave(seq_per_img, 0);
    const int64_t rows = captions.size(0), positions = memory.size(1), steps = captions.size(1) - 1;
    const torch::Tensor words = F::embedding(captions.narrow(1, 0, steps).t(), embedding);  // [L - 1, N, E]
    std::vector<torch::Tensor> outputs;
    outputs.reserve(static_cast<size_t>(steps));
    for (int64_t t = 0; t < steps; ++t) {
      const torch::Tensor energies = torch::tanh(keys + F::linear(h, query, att_query_->bias).unsqueeze(1));
      const torch::Tensor alpha = torch::softmax(F::linear(energies, qk, att_qk_->bias).reshape({rows, positions}), 1);
      const torch::Tensor context = (alpha.unsqueeze(2) * expanded_memory).sum(1);
      const torch::Tensor input = torch::dropout(torch::cat({words[t], context}, 1), dropout, is_training());
      std::tie(h, c) = torch::lstm_cell(input, {h, c}, w_ih, w_hh, lstm_->bias_ih, lstm_->bias_hh);
      outputs.push_back(h);
    }
    const torch::Tensor output = torch::dropout(torch::stack(outputs, 1), dropout, is_training());
    return F::linear(output, logit, logit_->bias);
  }

  models::SoftAttentionConfig config_;
  torch::nn::Conv2d stem_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  torch::nn::ModuleList stages_{nullptr};                  // owns the blocks, names them stages.i
  std::vector<std::shared_ptr<TorchSeparableBlock>> blocks_;  // the same blocks, typed
  torch::nn::Embedding embedding_{nullptr};
  torch::nn::Linear att_key_{nullptr}, att_query_{nullptr}, att_qk_{nullptr}, init_h_{nullptr}, init_c_{nullptr},
      logit_{nullptr};
  torch::nn::LSTMCell lstm_{nullptr};
};

int64_t element_count(const std::vector<torch::Tensor>& tensors) {
  int64_t count = 0;
  for (const torch::Tensor& t : tensors) count += t.numel();
  return count;
}

// The twin of TrainingStep: the same model config, optimizer groups, learning rates and order.
class TorchTrainingStep {
 public:
  TorchTrainingStep(const models::SoftAttentionConfig& config, bool supermask, const train::OptimConfig& optim,
                    int64_t total_steps)
      : model_(std::make_shared<TorchSoftAttention>(config)),
        clip_value_(optim.clip_value),
        schedule_(optim::cosine_schedule(optim.learning_rate, optim.learning_rate_floor, total_steps)),
        total_steps_(total_steps) {
    const auto adam = [&](double lr, double eps, double weight_decay) {
      return std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(lr)
                                                             .betas({optim.beta1, optim.beta2})
                                                             .eps(eps)
                                                             .weight_decay(weight_decay));
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(model_->parameters(), adam(optim.learning_rate, optim.eps, optim.weight_decay));
    if (supermask) {
      const pruning::SupermaskOptions defaults;
      target_sparsity_ = pruning_section(true).at("target_sparsity").get<double>();
      sparsity_weight_ = pruning::default_sparsity_weight(target_sparsity_);
      gates_.emplace(model_->prunable_weights(), defaults.gate_init);
      // The engine's Supermask group: constant learning rate, its own eps, no weight decay.
      groups.emplace_back(gates_->gates(), adam(defaults.gate_learning_rate, defaults.gate_eps, 0.0));
    }
    optimizer_ = std::make_unique<torch::optim::Adam>(std::move(groups));
    for (const torch::optim::OptimizerParamGroup& group : optimizer_->param_groups())
      parameters_.insert(parameters_.end(), group.params().begin(), group.params().end());
  }

  const TorchSoftAttention& model() const { return *model_; }
  int64_t gate_count() const { return gates_ ? element_count(gates_->gates()) : 0; }

  void run(const torch::Tensor& images, const torch::Tensor& captions, int64_t seq_per_img) {
    ++step_;
    model_->train();
    // The first group follows the cosine schedule; the gates' learning rate is constant.
    static_cast<torch::optim::AdamOptions&>(optimizer_->param_groups()[0].options()).lr(schedule_->lr_at(step_));
    // Gradients set to none rather than zeroed (PyTorch 2's default): backward then writes them
    // instead of adding to zeros, the cheaper of libtorch's two ways.
    for (torch::Tensor& p : parameters_) p.mutable_grad().reset();
    const EffectiveWeight effective = [this](const torch::Tensor& weight) {
      return gates_ ? gates_->effective(weight) : weight;
    };
    const torch::Tensor caption_loss = model_->loss(images, captions, seq_per_img, effective);
    torch::Tensor total_loss = caption_loss;
    if (gates_)
      total_loss = caption_loss + gates_->sparsity_loss(target_sparsity_) *
                                      (sparsity_weight_ * pruning::annealing_rate(step_, total_steps_));
    // Trainer::step reads both losses before backward on the CPU (its divergence check).
    if (!std::isfinite(caption_loss.item<double>()) || !std::isfinite(total_loss.item<double>()))
      throw Error("bench_train_libtorch: the libtorch loss is not finite at step " + std::to_string(step_));
    total_loss.backward();
    if (clip_value_ > 0) torch::nn::utils::clip_grad_value_(parameters_, clip_value_);
    optimizer_->step();
  }

 private:
  std::shared_ptr<TorchSoftAttention> model_;
  double clip_value_;
  optim::SchedulePtr schedule_;
  int64_t total_steps_;
  std::optional<TorchGates> gates_;
  double target_sparsity_ = 0, sparsity_weight_ = 0;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::vector<torch::Tensor> parameters_;  // the model's and the gates', as clip_grad_value sees them
  int64_t step_ = 0;
};

// The engine's batch as torch tensors (copies of the same values).
struct TorchBatch {
  torch::Tensor images, captions;
};

TorchBatch torch_batch(const StepBatch& batch) {
  const std::vector<float> pixels = batch.images.to_vector<float>();
  const std::vector<int64_t> tokens = batch.captions.to_vector<int64_t>();
  const Shape& image_shape = batch.images.shape();
  const Shape& caption_shape = batch.captions.shape();
  return {torch::from_blob(const_cast<float*>(pixels.data()),
                           std::vector<int64_t>(image_shape.begin(), image_shape.end()), torch::kFloat)
              .clone(),
          torch::from_blob(const_cast<int64_t*>(tokens.data()),
                           std::vector<int64_t>(caption_shape.begin(), caption_shape.end()), torch::kLong)
              .clone()};
}

// ---- measurement ----

int64_t element_count(const std::vector<nn::ParameterPtr>& parameters) {
  int64_t count = 0;
  for (const nn::ParameterPtr& p : parameters) count += p->value().numel();
  return count;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

template <typename Step>
double seconds_of(Step&& step) {
  const double start = now_seconds();
  step();
  return now_seconds() - start;
}

struct CaseResult {
  std::vector<double> sparsecap, libtorch;  // seconds per timed step
};

// Builds both steps for one case, checks that the models agree in size, warms both up and times
// them step by step, alternating engines. Returns nullopt (after saying why) when the sizes differ.
std::optional<CaseResult> measure_case(bool supermask, const StepBatch& batch, const TorchBatch& tensors,
                                       const Options& options) {
  const int64_t total_steps = options.warmup + options.steps;
  const train::OptimConfig optim;
  TrainingStep engine(soft_attention_section(), kVocabulary, pruning_section(supermask), optim, Device::cpu(),
                      total_steps);
  TorchTrainingStep twin(soft_attention_config(), supermask, optim, total_steps);

  const int64_t engine_parameters = element_count(engine.model().parameters());
  const int64_t twin_parameters = element_count(twin.model().parameters());
  const int64_t engine_prunable = element_count(engine.model().prunable_parameters());
  const int64_t twin_prunable = element_count(twin.model().prunable_weights());
  std::printf("  %-10s parameters: sparsecap %lld, libtorch %lld; prunable weights: sparsecap %lld, libtorch %lld%s\n",
              supermask ? "supermask" : "dense", static_cast<long long>(engine_parameters),
              static_cast<long long>(twin_parameters), static_cast<long long>(engine_prunable),
              static_cast<long long>(twin_prunable),
              supermask ? (", gates " + std::to_string(twin.gate_count())).c_str() : "");
  // The two models are built from one config by one set of rules, so the counts agree exactly.
  if (engine_parameters != twin_parameters || engine_prunable != twin_prunable) {
    std::printf("  the models differ in size: no comparison\n");
    return std::nullopt;
  }

  const auto engine_step = [&] { engine.run(batch); };
  const auto twin_step = [&] { twin.run(tensors.images, tensors.captions, batch.seq_per_img); };
  for (int i = 0; i < options.warmup; ++i) {
    engine_step();
    twin_step();
  }
  CaseResult result;
  for (int i = 0; i < options.steps; ++i) {
    result.sparsecap.push_back(seconds_of(engine_step));
    result.libtorch.push_back(seconds_of(twin_step));
  }
  return result;
}

// The median over timed steps i of libtorch's step i over sparsecap's step i, taken one after the
// other: less moved by load that comes and goes over the run than the ratio of the medians, which
// decides PASS or FAIL.
double median_paired_ratio(const CaseResult& r) {
  std::vector<double> ratios;
  for (size_t i = 0; i < r.sparsecap.size(); ++i) ratios.push_back(r.libtorch[i] / r.sparsecap[i]);
  return median(ratios);
}

// "median (min..max)" in milliseconds.
std::string describe_times(const std::vector<double>& seconds) {
  const auto [low, high] = std::minmax_element(seconds.begin(), seconds.end());
  char text[64];
  std::snprintf(text, sizeof text, "%8.1f (%.0f..%.0f)", median(seconds) * 1e3, *low * 1e3, *high * 1e3);
  return text;
}

// libtorch's build as at::show_config() reports it: its oneDNN and CPU capability lines, and from
// its build settings the BLAS and threading choices.
void print_libtorch_build() {
  const std::string config = at::show_config();
  std::vector<std::string> settings;
  size_t start = 0;
  while (start < config.size()) {
    size_t end = config.find('\n', start);
    if (end == std::string::npos) end = config.size();
    const std::string line = config.substr(start, end - start);
    const size_t text = line.find_first_not_of(" -");
    if (line.find("MKL-DNN") != std::string::npos || line.find("CPU capability") != std::string::npos)
      settings.push_back(line.substr(text));
    for (const char* key : {"BLAS_INFO=", "USE_MKLDNN=", "USE_OPENMP="})
      if (const size_t at = line.find(key); at != std::string::npos)
        settings.push_back(line.substr(at, line.find(',', at) - at));
    start = end + 1;
  }
  std::string joined;
  for (const std::string& setting : settings) joined += (joined.empty() ? "" : "; ") + setting;
  std::printf("libtorch build: %s\n", joined.c_str());
}

void print_header(const Options& options) {
  std::printf("bench_train_libtorch: one Soft-Attention training step, sparsecap against libtorch %s, dense and "
              "Supermask\n", TORCH_VERSION);
  std::printf("model: MobileNet-V1 x0.5 (stride-8 blocks, 8x8 memory), LSTM 512, attention 512, embedding 256, "
              "vocabulary %lld\n", static_cast<long long>(kVocabulary));
  std::printf("batch: images [%lld, 3, %lld, %lld] and captions [%lld, %lld] (%lld images x %lld captions, "
              "8..%lld words); Adam, cosine LR, clip_grad_value 0.1\n",
              static_cast<long long>(kImages), static_cast<long long>(kImageSize), static_cast<long long>(kImageSize),
              static_cast<long long>(kImages * kSeqPerImage), static_cast<long long>(kMaxWords + 2),
              static_cast<long long>(kImages), static_cast<long long>(kSeqPerImage), static_cast<long long>(kMaxWords));
  std::printf("cpu: %s; sparsecap %d OpenMP threads; libtorch %d intra-op threads, %d inter-op thread\n",
              cpu::cpu_model().c_str(), cpu::thread_count(), at::get_num_threads(), at::get_num_interop_threads());
  print_libtorch_build();
  std::printf("timing: %d untimed warm-up step(s) per engine, then %d timed steps alternating engines; median "
              "(min..max) in ms; paired: the median of the step-by-step ratios\n", options.warmup, options.steps);
}

}  // namespace
}  // namespace sparsecap::bench

int main(int argc, char** argv) {
  using namespace sparsecap;
  const bench::Options options = bench::parse_options(argc, argv);
  // Inter-op threads first: libtorch fixes their number at the first parallel work. One, as the
  // step has no independent graph branches to run beside each other. set_num_threads also sets
  // OpenMP's count, which sparsecap's CPU loops read, so both engines run on the same threads.
  at::set_num_interop_threads(1);
  torch::set_num_threads(options.threads);
  torch::manual_seed(0);
  bench::print_header(options);

  const bench::StepBatch batch = bench::random_batch(bench::kVocabulary, 1);
  const bench::TorchBatch tensors = bench::torch_batch(batch);
  std::map<bool, std::optional<bench::CaseResult>> results;
  for (const bool supermask : {false, true}) results[supermask] = bench::measure_case(supermask, batch, tensors, options);

  std::printf("\n  %-10s %26s %26s %18s %9s   target %.0fx\n", "case", "sparsecap ms/step", "libtorch ms/step",
              "libtorch/sparsecap", "paired", bench::kTarget);
  int status = 0;
  for (const bool supermask : {false, true}) {
    const char* name = supermask ? "supermask" : "dense";
    if (!results[supermask]) {
      std::printf("  %-10s models differ: not compared\n", name);
      status = 3;
      continue;
    }
    const bench::CaseResult& r = *results[supermask];
    const double ratio = bench::median(r.libtorch) / bench::median(r.sparsecap);
    const bool pass = ratio >= bench::kTarget;
    std::printf("  %-10s %26s %26s %8.2fx faster %8.2fx   %s\n", name, bench::describe_times(r.sparsecap).c_str(),
                bench::describe_times(r.libtorch).c_str(), ratio, bench::median_paired_ratio(r),
                pass ? "PASS" : "FAIL");
    if (!pass && status == 0) status = 1;
  }
  return status;
}
