#include "models/mobilenet.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/json_fields.h"

namespace sparsecap::models {

std::vector<SeparableBlockSpec> mobilenet_v1_default_blocks() {
  return {{64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2}, {512, 1}};
}

std::vector<SeparableBlockSpec> mobilenet_v1_stride8_blocks() {
  return {{64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 1}, {512, 1}};
}

std::vector<SeparableBlockSpec> mobilenet_v1_imagenet_blocks() {
  return {{64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2},  {512, 1},
          {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
}

int64_t MobileNetConfig::scaled(int64_t channels) const {
  return std::max<int64_t>(8, static_cast<int64_t>(std::llround(static_cast<double>(channels) * width_multiplier)));
}

int64_t MobileNetConfig::output_channels() const {
  return scaled(blocks.empty() ? stem_channels : blocks.back().channels);
}

int64_t MobileNetConfig::output_size(int64_t input_size) const {
  // A 3x3 conv with padding 1 and stride s maps n to (n - 1) / s + 1.
  int64_t size = (input_size - 1) / stem_stride + 1;
  for (const SeparableBlockSpec& block : blocks) size = (size - 1) / block.stride + 1;
  return size;
}

void MobileNetConfig::validate() const {
  SPARSECAP_CHECK(width_multiplier > 0.0 && width_multiplier <= 4.0, "encoder.width_multiplier ", width_multiplier,
                  " outside (0, 4]");
  SPARSECAP_CHECK(stem_channels > 0, "encoder.stem_channels must be positive, got ", stem_channels);
  SPARSECAP_CHECK(stem_stride == 1 || stem_stride == 2, "encoder.stem_stride must be 1 or 2, got ", stem_stride);
  for (size_t i = 0; i < blocks.size(); ++i) {
    SPARSECAP_CHECK(blocks[i].channels > 0, "encoder.blocks[", i, "]: channels must be positive, got ",
                    blocks[i].channels);
    SPARSECAP_CHECK(blocks[i].stride == 1 || blocks[i].stride == 2, "encoder.blocks[", i,
                    "]: stride must be 1 or 2, got ", blocks[i].stride);
  }
}

void to_json(nlohmann::json& json, const MobileNetConfig& config) {
  nlohmann::json blocks = nlohmann::json::array();
  for (const SeparableBlockSpec& block : config.blocks) blocks.push_back({block.channels, block.stride});
  json = {{"width_multiplier", config.width_multiplier},
          {"stem_channels", config.stem_channels},
          {"stem_stride", config.stem_stride},
          {"blocks", blocks}};
}

void from_json(const nlohmann::json& json, MobileNetConfig& config) {
  check_known_keys(json, {"width_multiplier", "stem_channels", "stem_stride", "blocks"}, "encoder");
  read_field(json, "width_multiplier", config.width_multiplier, "encoder");
  read_field(json, "stem_channels", config.stem_channels, "encoder");
  read_field(json, "stem_stride", config.stem_stride, "encoder");
  if (json.contains("blocks")) {
    const nlohmann::json& blocks = json.at("blocks");
    SPARSECAP_CHECK(blocks.is_array(), "encoder.blocks must be a list of [channels, stride], got ", blocks.dump());
    config.blocks.clear();
    for (const nlohmann::json& block : blocks) {
      SPARSECAP_CHECK(block.is_array() && block.size() == 2 && block[0].is_number_integer() &&
                          block[1].is_number_integer(),
                      "encoder.blocks: expected [channels, stride], got ", block.dump());
      config.blocks.push_back({block[0].get<int64_t>(), block[1].get<int64_t>()});
    }
  }
  config.validate();
}

namespace {

std::shared_ptr<nn::Conv2d> conv_without_bias(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                                              int64_t groups, Generator& generator) {
  nn::Conv2dOptions options;
  options.stride = stride;
  options.padding = kernel / 2;
  options.groups = groups;
  options.bias = false;  // batch norm's shift replaces it
  return std::make_shared<nn::Conv2d>(in, out, kernel, generator, options);
}

}  // namespace

SeparableBlock::SeparableBlock(int64_t in_channels, int64_t out_channels, int64_t stride, Generator& generator) {
  depthwise_ = register_module("depthwise", conv_without_bias(in_channels, in_channels, 3, stride, in_channels, generator));
  depthwise_bn_ = register_module("depthwise_bn", std::make_shared<nn::BatchNorm2d>(in_channels));
  pointwise_ = register_module("pointwise", conv_without_bias(in_channels, out_channels, 1, 1, 1, generator));
  pointwise_bn_ = register_module("pointwise_bn", std::make_shared<nn::BatchNorm2d>(out_channels));
}

Tensor SeparableBlock::forward(const Tensor& input) {
  const Tensor spatial = relu(depthwise_bn_->forward(depthwise_->forward(input)));
  return relu(pointwise_bn_->forward(pointwise_->forward(spatial)));
}

MobileNetV1Encoder::MobileNetV1Encoder(const MobileNetConfig& config, Generator& generator) : config_(config) {
  config_.validate();
  const int64_t stem_channels = config_.scaled(config_.stem_channels);
  stem_ = register_module("stem", conv_without_bias(3, stem_channels, 3, config_.stem_stride, 1, generator));
  stem_bn_ = register_module("stem_bn", std::make_shared<nn::BatchNorm2d>(stem_channels));
  stages_ = register_module("stages", std::make_shared<nn::Sequential>());
  int64_t channels = stem_channels;
  for (const SeparableBlockSpec& block : config_.blocks) {
    const int64_t out = config_.scaled(block.channels);
    stages_->append(std::make_shared<SeparableBlock>(channels, out, block.stride, generator));
    channels = out;
  }
}

Tensor MobileNetV1Encoder::feature_map(const Tensor& images) {
  SPARSECAP_CHECK(images.dim() == 4 && images.size(1) == 3, "expected images [B, 3, H, W], got ",
                  shape_str(images.shape()), " in ",
                  prefix().empty() ? std::string("encoder") : prefix().substr(0, prefix().size() - 1));
  return stages_->forward(relu(stem_bn_->forward(stem_->forward(images))));
}

Tensor MobileNetV1Encoder::forward(const Tensor& images) { return feature_map_to_memory(feature_map(images)); }

Tensor feature_map_to_memory(const Tensor& feature_map) {
  SPARSECAP_CHECK(feature_map.dim() == 4, "feature map must be [B, C, h, w], got ", shape_str(feature_map.shape()));
  const int64_t batch = feature_map.size(0), channels = feature_map.size(1);
  const int64_t positions = feature_map.size(2) * feature_map.size(3);
  return transpose(feature_map.reshape({batch, channels, positions}), 1, 2);
}

}  // namespace sparsecap::models
