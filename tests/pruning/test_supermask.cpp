// Supermask Pruning: the fused gated weight against its unfused composition and the straight-
// through formulas, the sparsity loss and annealing against closed forms, where gates attach, and
// the method end to end on a small MLP (target reached, task loss kept, deterministic, resumable).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/autograd.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/clip.h"
#include "engine/rng.h"
#include "engine/serialize/checkpoint.h"
#include "pruning/gated_weight_op.h"
#include "pruning/report.h"
#include "pruning/supermask.h"

namespace sparsecap::pruning {
namespace {

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

TEST(GatedWeight, FusedForwardEqualsUnfusedCompositionExactly) {
  Generator data(1);
  const Tensor w = randn({37, 53}, data), g = mul_scalar(randn({37, 53}, data), 2.0);
  const kernels::GateDraw draw{77, 5, 4 * 1000, true};
  // The unfused chain: sigmoid, a uniform from the same Philox counters, compare, multiply.
  Generator counters(77, 5);
  counters.set_offset(4 * 1000);
  const Tensor uniform = rand(w.shape(), counters);
  const Tensor keep = greater_than(sub(sigmoid(g), uniform), 0.0);
  EXPECT_EQ(values(gated_weight(w, g, draw)), values(mul(w, keep)));
  // Roughly σ(G) of the weights survive: the draw is a real Bernoulli.
  const double expected_kept = sum(sigmoid(g)).item(), kept = sum(keep).item();
  EXPECT_NEAR(kept, expected_kept, 4 * std::sqrt(expected_kept));
}

TEST(GatedWeight, MaximumLikelihoodDrawKeepsExactlyThePositiveGates) {
  const Tensor w = from_vector<float>({1, 2, 3, 4, 5, 6}, {6});
  const Tensor g = from_vector<float>({-3.0f, 0.0f, 1e-30f, -1e-30f, 0.25f, 40.0f}, {6});
  EXPECT_EQ(values(gated_weight(w, g, kernels::GateDraw{1, 2, 0, false})), (std::vector<float>{0, 0, 3, 0, 5, 6}));
}

TEST(GatedWeight, BackwardIsTheStraightThroughEstimator) {
  Generator data(2);
  Tensor w = randn({64, 33}, data).set_requires_grad(true);
  Tensor g = randn({64, 33}, data).set_requires_grad(true);
  const Tensor upstream = randn({64, 33}, data);
  const kernels::GateDraw draw{9, 1, 0, true};
  const Tensor out = gated_weight(w, g, draw);
  sum(mul(out, upstream)).backward();
  const std::vector<float> wv = values(w), gv = values(g), dy = values(upstream), kept = values(out);
  const std::vector<float> dw = values(w.grad()), dg = values(g.grad());
  for (size_t i = 0; i < wv.size(); ++i) {
    const float keep = kept[i] == 0.0f && wv[i] != 0.0f ? 0.0f : 1.0f;
    const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(gv[i])));
    EXPECT_EQ(dw[i], dy[i] * keep) << i;
    EXPECT_NEAR(dg[i], dy[i] * wv[i] * s * (1 - s), 1e-6) << i;
  }
}

TEST(SparsityLoss, ValueGradientAndAnnealingMatchClosedForms) {
  // 3 of 8 gates open: s = 5/8; target 0.9 -> L = 0.275, and s < t pushes every gate down.
  Tensor a = from_vector<float>({2, -1, 0, 3}, {4}).set_requires_grad(true);
  Tensor b = from_vector<float>({-2, -5, 0.5f, -0.1f}, {2, 2}).set_requires_grad(true);
  const Tensor loss = sparsity_loss({a, b}, 0.9);
  EXPECT_NEAR(loss.item(), 0.9 - 5.0 / 8.0, 1e-7);
  EXPECT_EQ(count_kept_gates({a, b}).kept, 3);
  loss.backward();
  const std::vector<float> av = values(a), da = values(a.grad());
  for (size_t i = 0; i < av.size(); ++i) {
    const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(av[i])));
    EXPECT_NEAR(da[i], s * (1 - s) / 8.0, 1e-7);  // dL/dG = sign(s - t) * (-σ'/N) = +σ'/N
  }
  // Above the target the sign flips.
  Tensor c = from_vector<float>({-1, -1, -1, 1}, {4}).set_requires_grad(true);
  sparsity_loss({c}, 0.5).backward();
  EXPECT_LT(values(c.grad())[0], 0.0f);
  EXPECT_DOUBLE_EQ(annealing_rate(0, 100), 0.0);
  EXPECT_NEAR(annealing_rate(50, 100), 0.5, 1e-15);
  EXPECT_NEAR(annealing_rate(25, 100), 1.0 - 0.5 * (1.0 + std::cos(M_PI / 4)), 1e-15);
  EXPECT_DOUBLE_EQ(annealing_rate(100, 100), 1.0);
  EXPECT_DOUBLE_EQ(annealing_rate(250, 100), 1.0);
  EXPECT_DOUBLE_EQ(default_sparsity_weight(0.5), 5.0);
  EXPECT_NEAR(default_sparsity_weight(0.95), 10.0, 1e-12);
  EXPECT_NEAR(default_sparsity_weight(0.975), 20.0, 1e-12);
  EXPECT_NEAR(default_sparsity_weight(0.975, 1.5), 60.0, 1e-12);
}

// A 2-hidden-layer MLP, plus a LayerNorm and an Embedding so the attachment rules are exercised.
class SmallMlp : public nn::Module {
 public:
  explicit SmallMlp(uint64_t seed) {
    Generator generator(seed);
    first_ = register_module("first", std::make_shared<nn::Linear>(8, 64, generator));
    norm_ = register_module("norm", std::make_shared<nn::LayerNorm>(64));
    second_ = register_module("second", std::make_shared<nn::Linear>(64, 64, generator));
    out_ = register_module("out", std::make_shared<nn::Linear>(64, 1, generator));
    unused_table_ = register_module("table", std::make_shared<nn::Embedding>(3, 4, generator));
  }
  Tensor forward(const Tensor& x) {
    return out_->forward(tanh(second_->forward(tanh(norm_->forward(first_->forward(x))))));
  }

 private:
  std::shared_ptr<nn::Linear> first_, second_, out_;
  std::shared_ptr<nn::LayerNorm> norm_;
  std::shared_ptr<nn::Embedding> unused_table_;
};

TEST(Supermask, GatesAttachToWeightsAndEmbeddingsOnly) {
  SmallMlp model(1);
  optim::Adam adam(model.parameters(), optim::constant_schedule(1e-3));
  SupermaskPruning smp(SupermaskOptions{.total_steps = 10});
  smp.begin(nn::prunable_parameters(model), adam);
  std::vector<std::string> gated;
  for (const auto& [name, parameter] : model.named_parameters())
    if (parameter->has_transform()) gated.push_back(name);
  EXPECT_EQ(gated, (std::vector<std::string>{"first.weight", "second.weight", "out.weight", "table.weight"}));
  ASSERT_EQ(smp.gates().size(), 4u);
  EXPECT_EQ(smp.gates()[0]->name(), "first.weight.gate");
  EXPECT_EQ(values(smp.gates()[0]->value())[0], 5.0f);
  EXPECT_EQ(adam.groups().back().name, "gates");
  EXPECT_DOUBLE_EQ(adam.learning_rate(1), 100.0);
}

// Teacher-student regression: y = teacher(x) + noise; train and test sets from one seed.
struct RegressionData {
  Tensor train_x, train_y, test_x, test_y;
};

RegressionData make_data() {
  Generator generator(100);
  const Tensor w1 = randn({8, 16}, generator), w2 = mul_scalar(randn({16, 1}, generator), 0.5);
  auto sample = [&](int64_t n, Tensor& x, Tensor& y) {
    x = randn({n, 8}, generator);
    y = add(matmul(tanh(matmul(x, w1)), w2), mul_scalar(randn({n, 1}, generator), 0.1));
  };
  RegressionData data;
  sample(1024, data.train_x, data.train_y);
  sample(1024, data.test_x, data.test_y);
  return data;
}

struct RunResult {
  std::vector<float> losses;
  double test_loss = 0;
  double sparsity = 0;
  std::vector<std::vector<float>> masks;  // ML masks at the end
};

double mse(const Tensor& prediction, const Tensor& target) { return mean(pow(sub(prediction, target), 2.0)).item(); }

// Trains `steps` steps (optionally with SMP), optionally checkpointing after `save_at` and
// resuming from that file into fresh objects.
RunResult run(bool prune, int64_t steps, int64_t save_at = -1, const std::string& checkpoint_path = "") {
  const RegressionData data = make_data();
  auto model = std::make_unique<SmallMlp>(3);
  auto adam = std::make_unique<optim::Adam>(model->parameters(), optim::constant_schedule(1e-2),
                                            optim::AdamOptions{.eps = 1e-8});
  auto smp = std::make_unique<SupermaskPruning>(SupermaskOptions{.target_sparsity = 0.9, .total_steps = steps, .seed = 11});
  if (prune) smp->begin(nn::prunable_parameters(*model), *adam);
  RunResult result;
  for (int64_t step = 1; step <= steps; ++step) {
    if (prune) smp->before_step(step);
    adam->zero_grad();
    Tensor loss = mean(pow(sub(model->forward(data.train_x), data.train_y), 2.0));
    result.losses.push_back(static_cast<float>(loss.item()));
    if (prune) loss = add(loss, smp->extra_loss(step));
    loss.backward();
    optim::clip_grad_value(adam->parameters(), 0.1);
    adam->step();
    if (step == save_at) {
      Checkpoint checkpoint;
      for (const auto& [name, tensor] : model->state_dict()) checkpoint.tensors.emplace_back("model." + name, tensor);
      const optim::OptimizerState state = adam->state_tensors();
      for (const auto& [name, tensor] : state.tensors) checkpoint.tensors.emplace_back("optim." + name, tensor);
      checkpoint.metadata = state.metadata;
      for (const auto& [name, tensor] : smp->state_tensors()) checkpoint.tensors.emplace_back("smp." + name, tensor);
      for (const auto& [key, value] : smp->state_metadata()) checkpoint.metadata[key] = value;
      save_checkpoint(checkpoint_path, checkpoint);
      // Resume into fresh objects, as a new process would.
      const Checkpoint loaded = load_checkpoint(checkpoint_path);
      model = std::make_unique<SmallMlp>(999);  // different init: everything must come from the file
      adam = std::make_unique<optim::Adam>(model->parameters(), optim::constant_schedule(1e-2),
                                           optim::AdamOptions{.eps = 1e-8});
      smp = std::make_unique<SupermaskPruning>(SupermaskOptions{.target_sparsity = 0.9, .total_steps = steps, .seed = 11});
      smp->begin(nn::prunable_parameters(*model), *adam);
      nn::StateDict weights;
      optim::OptimizerState optimizer_state;
      std::map<std::string, Tensor> gates;
      for (const auto& [name, tensor] : loaded.tensors) {
        if (name.rfind("model.", 0) == 0) weights[name.substr(6)] = tensor;
        if (name.rfind("optim.", 0) == 0) optimizer_state.tensors[name.substr(6)] = tensor;
        if (name.rfind("smp.", 0) == 0) gates[name.substr(4)] = tensor;
      }
      for (const auto& [key, value] : loaded.metadata)
        if (key.rfind("optimizer.", 0) == 0) optimizer_state.metadata[key] = value;
      model->load_state_dict(weights);
      adam->load_state_tensors(optimizer_state);
      smp->load_state(gates, loaded.metadata);
    }
  }
  NoGradGuard no_grad;
  model->eval();
  result.test_loss = mse(model->forward(data.test_x), data.test_y);
  if (prune) {
    result.sparsity = smp->gate_sparsity().sparsity();
    for (const auto& gate : smp->gates()) result.masks.push_back(values(greater_than(gate->value(), 0.0)));
  }
  return result;
}

TEST(Supermask, ReachesTheTargetAndKeepsTheTaskLoss) {
  const RunResult dense = run(false, 800), pruned = run(true, 800);
  std::printf("dense test MSE %.5f, SMP test MSE %.5f at sparsity %.4f\n", dense.test_loss, pruned.test_loss,
              pruned.sparsity);
  EXPECT_NEAR(pruned.sparsity, 0.9, 0.005);
  EXPECT_LT(pruned.test_loss, 1.1 * dense.test_loss) << "dense " << dense.test_loss;
  EXPECT_LT(dense.test_loss, 0.1);  // the task was learned at all (target variance is about 1)
}

TEST(Supermask, SameSeedSameMasksAndResumeIsExact) {
  const std::string path = (std::filesystem::temp_directory_path() / "sparsecap_smp_resume.safetensors").string();
  const RunResult first = run(true, 120), second = run(true, 120), resumed = run(true, 120, 60, path);
  EXPECT_EQ(first.masks, second.masks);
  EXPECT_EQ(first.losses, second.losses);
  EXPECT_EQ(first.masks, resumed.masks);
  EXPECT_EQ(first.losses, resumed.losses);
  std::filesystem::remove(path);
}

TEST(Supermask, PerStepDrawsReuseOneMaskAndPerCallDrawsDoNot) {
  for (bool per_call : {false, true}) {
    SmallMlp model(1);
    optim::Adam adam(model.parameters(), optim::constant_schedule(1e-3));
    SupermaskPruning smp(SupermaskOptions{.total_steps = 10, .gate_init = 0.0, .resample_per_call = per_call});
    smp.begin(nn::prunable_parameters(model), adam);
    const nn::ParameterPtr weight = model.named_parameters()[0].second;
    smp.before_step(1);
    const std::vector<float> a = values(weight->effective()), b = values(weight->effective());
    EXPECT_EQ(a == b, !per_call);
    smp.before_step(2);
    EXPECT_NE(values(weight->effective()), a);  // a new step draws a new mask
  }
}

TEST(Supermask, FinalizeBakesMasksAndFreezeFixesThem) {
  SmallMlp model(1);
  optim::Adam adam(model.parameters(), optim::constant_schedule(1e-3));
  SupermaskPruning smp(SupermaskOptions{.total_steps = 10});
  smp.begin(nn::prunable_parameters(model), adam);
  // Close a known set of gates by hand: every other gate of the first layer.
  Tensor& gate = smp.gates()[0]->value();
  std::vector<float> g = values(gate);
  for (size_t i = 0; i < g.size(); i += 2) g[i] = -1.0f;
  gate.copy_(from_vector(g, gate.shape()));
  EXPECT_EQ(smp.gates_changed_since_last_call(), 256);
  EXPECT_EQ(smp.gates_changed_since_last_call(), 0);
  EXPECT_NEAR(smp.gate_sparsity().layers[0].sparsity(), 0.5, 1e-12);
  const std::vector<int64_t> histogram = smp.gate_histogram(2, -2.0, 6.0);
  EXPECT_EQ(histogram[0], 256);  // the closed gates at -1

  smp.freeze();
  smp.before_step(1);
  const nn::ParameterPtr first = model.named_parameters()[0].second;
  const std::vector<float> effective = values(first->effective()), stored = values(first->value());
  for (size_t i = 0; i < effective.size(); ++i) EXPECT_EQ(effective[i], i % 2 ? stored[i] : 0.0f);
  EXPECT_FALSE(smp.extra_loss(1).defined());

  smp.finalize();
  EXPECT_FALSE(first->has_transform());
  const SparsityReport report = weight_sparsity(nn::prunable_parameters(model));
  EXPECT_EQ(report.layers[0].kept, 256);
  EXPECT_EQ(report.total, 8 * 64 + 64 * 64 + 64 + 12);
  EXPECT_NE(format_sparsity_table(report).find("first.weight"), std::string::npos);
}

TEST(Supermask, StatisticsRecordCarriesTheReferenceFields) {
  SmallMlp model(1);
  optim::Adam adam(model.parameters(), optim::constant_schedule(1e-3));
  SupermaskPruning smp(SupermaskOptions{.target_sparsity = 0.8, .total_steps = 100});
  smp.begin(nn::prunable_parameters(model), adam);
  smp.before_step(50);
  const double scaled = smp.extra_loss(50).item();
  const nlohmann::json record = smp.statistics_record(50, 1.25);
  EXPECT_DOUBLE_EQ(record["caption_loss"].get<double>(), 1.25);
  EXPECT_NEAR(record["sparsity_loss"].get<double>(), 0.8, 1e-7);  // every gate open: s = 0
  EXPECT_NEAR(record["annealing_rate"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(record["scaled_sparsity_loss"].get<double>(), scaled, 1e-6);
  EXPECT_NEAR(scaled, 5.0 * 0.5 * 0.8, 1e-6);
  EXPECT_DOUBLE_EQ(record["gating_average"].get<double>(), 5.0);
  EXPECT_EQ(record["per_mask_sparsity"].size(), 4u);
}

}  // namespace
}  // namespace sparsecap::pruning
