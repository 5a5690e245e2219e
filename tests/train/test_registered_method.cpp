// A pruning method added from outside pruning/ — here, one-shot global magnitude pruning defined
// in this test file — is registered at run time and trained for a few steps through the real
// Trainer, checkpointed, loaded back and finalized: adding a method needs no change to the
// trainer, the checkpoint code or trained-run loading.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/autograd.h"
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "pruning/method_registry.h"
#include "train/run_directory.h"
#include "train/trained_run.h"
#include "train/trainer.h"
#include "tests/train/tiny_shapes_set.h"

namespace sparsecap::train {
namespace {

namespace fs = std::filesystem;

// W ⊙ M with a fixed mask.
class MaskTransform : public nn::WeightTransform {
 public:
  explicit MaskTransform(Tensor mask) : mask_(std::move(mask)) {}
  Tensor apply(const Tensor& weight, bool) override { return mul(weight, mask_); }
  std::string description() const override { return "magnitude mask"; }
  const Tensor& mask() const { return mask_; }

 private:
  Tensor mask_;
};

// One-shot global magnitude pruning: before step `prune_at_step`, the smallest
// `target_sparsity` of all prunable weights by |w| (one threshold over every layer) are masked.
class OneShotGlobalMagnitude : public pruning::PruningMethod {
 public:
  OneShotGlobalMagnitude(double target, int64_t prune_at_step) : target_(target), prune_at_step_(prune_at_step) {}

  std::string name() const override { return "test_global_magnitude"; }
  void attach(const std::vector<nn::ParameterPtr>& weights) override { weights_ = weights; }
  void before_step(int64_t step) override {
    if (step == prune_at_step_ && masks_.empty()) prune();
  }
  void finalize() override {
    NoGradGuard no_grad;
    for (size_t i = 0; i < masks_.size(); ++i) {
      weights_[i]->value().copy_(mul(weights_[i]->value(), masks_[i]));
      weights_[i]->detach_transform();
    }
    masks_.clear();
  }
  std::optional<double> target_sparsity() const override { return target_; }
  pruning::SparsityReport sparsity() const override {
    if (masks_.empty()) return pruning::weight_sparsity(weights_);
    pruning::SparsityReport report;
    for (size_t i = 0; i < masks_.size(); ++i)
      report.add({weights_[i]->name(), weights_[i]->shape(), std::llround(sum(masks_[i]).item()), masks_[i].numel()});
    return report;
  }
  bool target_reached() const override { return !masks_.empty(); }
  std::vector<std::pair<std::string, Tensor>> state_tensors() const override {
    std::vector<std::pair<std::string, Tensor>> out;
    for (size_t i = 0; i < masks_.size(); ++i) out.emplace_back(weights_[i]->name() + ".mask", masks_[i]);
    return out;
  }
  void load_state(const std::map<std::string, Tensor>& tensors, const std::map<std::string, std::string>&) override {
    if (tensors.empty()) return;  // saved before pruning
    std::vector<Tensor> masks;
    for (const nn::ParameterPtr& weight : weights_) masks.push_back(tensors.at(weight->name() + ".mask"));
    install(std::move(masks));
  }

 private:
  void prune() {
    NoGradGuard no_grad;
    std::vector<float> magnitudes;
    for (const nn::ParameterPtr& weight : weights_)
      for (float v : weight->value().to_vector<float>()) magnitudes.push_back(std::abs(v));
    const size_t cut = static_cast<size_t>(std::llround(target_ * static_cast<double>(magnitudes.size())));
    std::nth_element(magnitudes.begin(), magnitudes.begin() + static_cast<std::ptrdiff_t>(cut), magnitudes.end());
    const double threshold = magnitudes[cut];
    std::vector<Tensor> masks;
    for (const nn::ParameterPtr& weight : weights_) masks.push_back(greater_than(abs(weight->value()), threshold));
    install(std::move(masks));
  }
  void install(std::vector<Tensor> masks) {
    masks_ = std::move(masks);
    for (size_t i = 0; i < weights_.size(); ++i) weights_[i]->attach_transform(std::make_shared<MaskTransform>(masks_[i]));
  }

  double target_;
  int64_t prune_at_step_;
  std::vector<nn::ParameterPtr> weights_;
  std::vector<Tensor> masks_;
};

pruning::PruningMethodRegistration one_shot_registration() {
  auto parse = [](const nlohmann::json& section) {
    double target = 0.5;
    int64_t prune_at_step = 1;
    check_known_keys(section, {"target_sparsity", "prune_at_step"}, "pruning");
    read_field(section, "target_sparsity", target, "pruning");
    read_field(section, "prune_at_step", prune_at_step, "pruning");
    SPARSECAP_CHECK(target >= 0 && target < 1, "pruning.target_sparsity ", target, " outside [0, 1)");
    return std::pair{target, prune_at_step};
  };
  return {.resolve =
              [parse](const nlohmann::json& section) {
                const auto [target, step] = parse(section);
                return nlohmann::json{{"target_sparsity", target}, {"prune_at_step", step}};
              },
          .make = [parse](const nlohmann::json& section, const pruning::PruningRunInfo&) {
            const auto [target, step] = parse(section);
            return std::unique_ptr<pruning::PruningMethod>(std::make_unique<OneShotGlobalMagnitude>(target, step));
          }};
}

TEST(RegisteredPruningMethod, TrainsThroughTheRealTrainerAndFinalizes) {
  const fs::path root = fs::temp_directory_path() / ("sparsecap_registered_method_" + std::to_string(::getpid()));
  write_tiny_shapes_set(root / "shapes", 4);
  pruning::register_pruning_method("test_global_magnitude", one_shot_registration());

  RunConfig config = tiny_soft_attention_config(root / "shapes");
  config.pruning = {{"method", "test_global_magnitude"}, {"target_sparsity", 0.7}, {"prune_at_step", 3}};
  config.optim.max_steps = 6;
  config.schedule.log_every = 1;
  config.schedule.validate_every = 6;
  config.schedule.validation_images = 4;
  config.schedule.checkpoint_every = 3;
  const fs::path run_dir = root / "run";
  const TrainSummary summary = train_captioner(config, TrainOptions{run_dir});
  EXPECT_EQ(summary.steps, 6);
  EXPECT_NEAR(summary.sparsity, 0.7, 1e-3);

  // The config on disk names the method with its resolved options; a typo in them is an error.
  const RunConfig saved = load_run_config(RunDirectory{run_dir}.config());
  EXPECT_EQ(saved.pruning["prune_at_step"], 3);
  EXPECT_THROW(load_run_config(RunDirectory{run_dir}.config(), {"pruning.prune_at=3"}), Error);

  // Loading the run builds the method from the registry, restores its masks and bakes them in.
  const TrainedRun trained = load_trained_run(run_dir);
  EXPECT_TRUE(trained.pruned);
  EXPECT_NEAR(trained.sparsity.sparsity(), 0.7, 1e-3);
  for (const nn::ParameterPtr& weight : trained.model->prunable_parameters()) EXPECT_FALSE(weight->has_transform());
  fs::remove_all(root);
}

}  // namespace
}  // namespace sparsecap::train
