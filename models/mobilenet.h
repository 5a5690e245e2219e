#pragma once
// MobileNet-V1 (Howard et al. 2017) as the Soft-Attention captioner's image encoder: a 3x3 stem
// convolution, then depthwise-separable blocks (3x3 depthwise conv, batch norm, ReLU, 1x1
// pointwise conv, batch norm, ReLU). Every channel count is scaled by the width multiplier
// (1.0 / 0.5 / 0.25 in the SMP paper's small-vs-large study). The last feature map [B, C, h, w]
// is the attention memory, returned as [B, h*w, C] (position-major, row by row).
//
// The block list is configurable so the encoder fits the input resolution. The default is the
// first seven blocks of MobileNet-V1 (stride 16 in all): 64x64 inputs give a 4x4x512 memory
// (16 positions) at ~22 M multiply-adds per image, which trains at a useful speed on two CPU
// cores. mobilenet_v1_imagenet_blocks() is the paper's full list (stride 32, 1024 channels:
// 224x224 -> 7x7).
#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/nn/layers.h"
#include "engine/rng.h"

namespace sparsecap::models {

struct SeparableBlockSpec {
  int64_t channels = 0;  // output channels before the width multiplier
  int64_t stride = 1;    // of the depthwise conv: 1 or 2
  bool operator==(const SeparableBlockSpec&) const = default;
};

std::vector<SeparableBlockSpec> mobilenet_v1_default_blocks();   // 64,1 128,2 128,1 256,2 256,1 512,2 512,1
std::vector<SeparableBlockSpec> mobilenet_v1_imagenet_blocks();  // the 13 blocks of the paper
// The default blocks without the last stride: 64x64 inputs give an 8x8 memory (64 positions, 8
// pixels each) instead of 4x4, so a small object (9-13 pixels) is not averaged with its
// surroundings into one 16-pixel cell. The demo and configs/sa_*.json use it.
std::vector<SeparableBlockSpec> mobilenet_v1_stride8_blocks();   // 64,1 128,2 128,1 256,2 256,1 512,1 512,1

struct MobileNetConfig {
  double width_multiplier = 1.0;
  int64_t stem_channels = 32;  // before the width multiplier
  int64_t stem_stride = 2;
  std::vector<SeparableBlockSpec> blocks = mobilenet_v1_default_blocks();
  bool operator==(const MobileNetConfig&) const = default;

  // Channels after the width multiplier (at least 8, as the reference implementations round).
  int64_t scaled(int64_t channels) const;
  int64_t output_channels() const;
  // Side of the last feature map for a square input of side `input_size` (3x3 convs, padding 1).
  int64_t output_size(int64_t input_size) const;
  void validate() const;  // throws naming the offending value
};

// JSON: {"width_multiplier": 1.0, "stem_channels": 32, "stem_stride": 2,
//        "blocks": [[64, 1], [128, 2], ...]}; missing keys keep their defaults, unknown keys throw.
void to_json(nlohmann::json& json, const MobileNetConfig& config);
void from_json(const nlohmann::json& json, MobileNetConfig& config);

// Conv (no bias: batch norm follows) -> batch norm -> ReLU; children "conv"-less on purpose so
// names read "encoder.stages.3.depthwise.weight" and "encoder.stages.3.depthwise_bn.weight".
class SeparableBlock : public nn::UnaryModule {
 public:
  SeparableBlock(int64_t in_channels, int64_t out_channels, int64_t stride, Generator& generator);
  Tensor forward(const Tensor& input) override;

 private:
  std::shared_ptr<nn::Conv2d> depthwise_, pointwise_;
  std::shared_ptr<nn::BatchNorm2d> depthwise_bn_, pointwise_bn_;
};

class MobileNetV1Encoder : public nn::Module {
 public:
  MobileNetV1Encoder(const MobileNetConfig& config, Generator& generator);

  // images [B, 3, H, W] -> feature map [B, C, h, w].
  Tensor feature_map(const Tensor& images);
  // images [B, 3, H, W] -> attention memory [B, h*w, C].
  Tensor forward(const Tensor& images);

  int64_t output_channels() const { return config_.output_channels(); }
  const MobileNetConfig& config() const { return config_; }

 private:
  MobileNetConfig config_;
  std::shared_ptr<nn::Conv2d> stem_;
  std::shared_ptr<nn::BatchNorm2d> stem_bn_;
  std::shared_ptr<nn::Sequential> stages_;
};

// [B, C, h, w] -> [B, h*w, C].
Tensor feature_map_to_memory(const Tensor& feature_map);

}  // namespace sparsecap::models
