// `sparsecap profile` below the command line: a tiny Soft-Attention run profiled on the CPU gives
// the kernels its steps must call, with the bytes their shapes imply, and consistent derived
// columns; the table and the JSON show the same numbers. No time is asserted beyond what holds
// for any timing (kernel intervals lie inside the step, so together they take no longer).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <map>

#include "tests/train/tiny_shapes_set.h"
#include "train/step_profile.h"
#include "train/step_profile_report.h"

namespace sparsecap::train {
namespace {

namespace fs = std::filesystem;
using profiling::KernelTotals;
using profiling::WorkKind;

std::map<std::string, KernelTotals> by_kernel(const ProfiledStep& step) {
  std::map<std::string, KernelTotals> rows;
  for (const KernelTotals& row : step.kernels) rows[row.kernel] = row;
  return rows;
}

class StepProfileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("sparsecap_step_profile_test_" + std::to_string(::getpid()));
    fs::create_directories(root_);
    write_tiny_shapes_set(root_ / "shapes", 5);
    RunConfig config = tiny_soft_attention_config(root_ / "shapes");  // 8 images x 1 caption, LSTM 32
    config.pruning = {{"method", "supermask"}, {"target_sparsity", 0.5}};
    StepProfileOptions options;
    options.beam_size = 2;
    options.rate_probe = {.copy_bytes = 1 << 20, .gemm_size = 64, .repeats = 1};
    profile_ = new StepProfile(profile_steps(config, options));
  }
  static void TearDownTestSuite() {
    delete profile_;
    fs::remove_all(root_);
  }

  static fs::path root_;
  static StepProfile* profile_;
};

fs::path StepProfileTest::root_;
StepProfile* StepProfileTest::profile_ = nullptr;

TEST_F(StepProfileTest, DescribesTheRunAndTheRates) {
  const StepProfile& p = *profile_;
  EXPECT_EQ(p.device, "cpu");
  EXPECT_EQ(p.model, "soft_attention");
  EXPECT_EQ(p.pruning, "supermask");
  EXPECT_EQ(p.images, 8);
  EXPECT_EQ(p.captions_per_image, 1);
  EXPECT_EQ(p.beam_size, 2);
  EXPECT_EQ(p.decode_rows, 16);
  EXPECT_EQ(p.warmup_steps, 1);
  EXPECT_EQ(p.rates.probe.gemm_size, 64);
  EXPECT_GT(p.rates.copy_bytes_per_second, 0);
  EXPECT_GT(p.rates.gemm_flops_per_second, 0);
  EXPECT_EQ(p.training.name, "training step");
  EXPECT_EQ(p.decoding.name, "decode step");
}

TEST_F(StepProfileTest, TheTrainingStepCallsTheKernelsOfASupermaskStep) {
  const auto rows = by_kernel(profile_->training);
  // One loss over the batch, forward and backward.
  EXPECT_EQ(rows.at("cross_entropy").calls, 1);
  EXPECT_EQ(rows.at("cross_entropy_backward").calls, 1);
  // The encoder's convolutions, the GEMMs and the gated weights with their backward.
  for (const char* kernel : {"conv2d", "conv2d_backward_input", "conv2d_backward_weight", "gemm"})
    EXPECT_EQ(rows.at(kernel).kind, WorkKind::Flops) << kernel;
  EXPECT_EQ(rows.at("gated_weight").calls, rows.at("gated_weight_backward").calls);
  EXPECT_EQ(rows.at("lstm_cell").calls, rows.at("lstm_cell_backward").calls);
  // Adam updates every parameter in one call; it reads and writes the parameter and both moments
  // and reads the gradient: 7 floats per element.
  const KernelTotals& adam = rows.at("adam_step_many");
  EXPECT_EQ(static_cast<int64_t>(adam.amount) % 28, 0);
  EXPECT_EQ(adam.calls, 1);
  // Clipping by value clamps every gradient in place in one call: 8 bytes per element, as many
  // elements as Adam's.
  ASSERT_EQ(rows.count("unary.clamp_many"), 1u);
  EXPECT_EQ(rows.at("unary.clamp_many").calls, 1);
  EXPECT_EQ(rows.at("unary.clamp_many").amount * 28, adam.amount * 8);
  EXPECT_EQ(rows.count("unary.clamp"), 0u);
}

TEST_F(StepProfileTest, TheDecodeStepIsOneCellStepOverTheBeamRows) {
  const auto rows = by_kernel(profile_->decoding);
  // 16 rows, hidden 32: input and hidden gates [16, 128], c_prev [16, 32], the state [2, 16, 32]
  // and the activated gates [16, 128], float32.
  const KernelTotals& cell = rows.at("lstm_cell");
  EXPECT_EQ(cell.calls, 1);
  EXPECT_EQ(cell.amount, 4.0 * (16 * 128 * 3 + 16 * 32 + 2 * 16 * 32));
  EXPECT_EQ(rows.at("log_softmax").calls, 1);
  // Nothing of training: no backward, no optimizer, no loss.
  for (const auto& [kernel, row] : rows) {
    EXPECT_EQ(kernel.find("backward"), std::string::npos) << kernel;
    EXPECT_NE(kernel, "adam_step_many");
    EXPECT_NE(kernel, "cross_entropy");
  }
}

TEST_F(StepProfileTest, KernelsLieInsideTheStepMostTimeFirst) {
  for (const ProfiledStep* step : {&profile_->training, &profile_->decoding}) {
    ASSERT_FALSE(step->kernels.empty()) << step->name;
    EXPECT_LE(step->kernel_seconds(), step->wall_seconds) << step->name;
    for (size_t i = 1; i < step->kernels.size(); ++i)
      EXPECT_GE(step->kernels[i - 1].seconds, step->kernels[i].seconds) << step->name << " row " << i;
  }
}

TEST_F(StepProfileTest, TheJsonHoldsEveryRowWithItsDerivedColumns) {
  const nlohmann::json json = step_profile_to_json(*profile_);
  EXPECT_EQ(json["device"], "cpu");
  EXPECT_EQ(json["model"], "soft_attention");
  EXPECT_EQ(json["decode_rows"], 16);
  EXPECT_EQ(json["reference"]["gemm_size"], 64);
  EXPECT_EQ(json["reference"]["copy_bytes"], 1 << 20);
  ASSERT_EQ(json["steps"].size(), 2u);
  const ProfiledStep* steps[] = {&profile_->training, &profile_->decoding};
  for (size_t s = 0; s < 2; ++s) {
    const nlohmann::json& step = json["steps"][s];
    EXPECT_EQ(step["name"], steps[s]->name);
    EXPECT_EQ(step["wall_seconds"].get<double>(), steps[s]->wall_seconds);
    ASSERT_EQ(step["kernels"].size(), steps[s]->kernels.size());
    for (size_t i = 0; i < steps[s]->kernels.size(); ++i) {
      const KernelTotals& kernel = steps[s]->kernels[i];
      const nlohmann::json& row = step["kernels"][i];
      EXPECT_EQ(row["kernel"], kernel.kernel);
      EXPECT_EQ(row["calls"], kernel.calls);
      EXPECT_EQ(row["amount"].get<double>(), kernel.amount);
      EXPECT_EQ(row["counts"], std::string(profiling::work_kind_name(kernel.kind)));
      EXPECT_DOUBLE_EQ(row["share"].get<double>(), kernel.seconds / steps[s]->wall_seconds);
      if (kernel.kind == WorkKind::Bytes && kernel.seconds > 0) {
        EXPECT_EQ(row["reference"], "copy");
        EXPECT_DOUBLE_EQ(row["percent_of_reference"].get<double>(),
                         100.0 * kernel.amount / kernel.seconds / profile_->rates.copy_bytes_per_second);
      }
      if (kernel.kind == WorkKind::None) {
        EXPECT_TRUE(row["per_second"].is_null()) << kernel.kernel;
      }
    }
  }
}

TEST_F(StepProfileTest, TheTableHasAHeaderAndARowPerKernel) {
  const std::string table = format_step_profile(*profile_);
  EXPECT_NE(table.find("sparsecap profile: soft_attention (pruning: supermask) on cpu ("), std::string::npos);
  EXPECT_NE(table.find("reference: copy "), std::string::npos);
  EXPECT_NE(table.find("(1 MiB copied within the device, read + written, best of 1); GEMM "), std::string::npos);
  EXPECT_NE(table.find("(64^3 float32, best of 1)"), std::string::npos);
  EXPECT_NE(table.find("training step of 8 images x 1 captions: "), std::string::npos);
  EXPECT_NE(table.find("decode step of 16 rows (8 images x beam 2): "), std::string::npos);
  // The two header lines and a blank one; per step a heading, the column names and one line per
  // kernel; a blank line between the steps.
  size_t lines = 0;
  for (char c : table) lines += c == '\n';
  EXPECT_EQ(lines, 3 + 2 * 2 + 1 + profile_->training.kernels.size() + profile_->decoding.kernels.size());
}

// The derived columns and the table's formatting on numbers chosen by hand.
TEST(StepProfileReport, DerivesRatesAndSharesOfTheReferences) {
  profiling::DeviceRates rates;
  rates.copy_bytes_per_second = 4e9;
  rates.gemm_flops_per_second = 1e11;
  const KernelRow bytes = kernel_row({"binary.add", WorkKind::Bytes, 2, 0.5, 1e9}, 2.0, rates);
  EXPECT_DOUBLE_EQ(bytes.share, 0.25);
  EXPECT_DOUBLE_EQ(*bytes.per_second, 2e9);
  EXPECT_DOUBLE_EQ(*bytes.percent_of_reference, 50.0);
  EXPECT_EQ(*bytes.reference, "copy");
  const KernelRow flops = kernel_row({"gemm", WorkKind::Flops, 1, 1.0, 5e10}, 2.0, rates);
  EXPECT_DOUBLE_EQ(*flops.percent_of_reference, 50.0);
  EXPECT_EQ(*flops.reference, "gemm");
  const KernelRow host = kernel_row({"copy_to_host", WorkKind::HostBytes, 1, 0.25, 1e9}, 2.0, rates);
  EXPECT_DOUBLE_EQ(*host.per_second, 4e9);
  EXPECT_FALSE(host.percent_of_reference.has_value());
  const KernelRow none = kernel_row({"allocate", WorkKind::None, 3, 0.1, 0}, 2.0, rates);
  EXPECT_FALSE(none.per_second.has_value());
  EXPECT_FALSE(kernel_row({"fill", WorkKind::Bytes, 1, 0.0, 8}, 2.0, rates).per_second.has_value());
}

TEST(StepProfileReport, FormatsTheTableColumns) {
  StepProfile profile;
  profile.device = "cpu";
  profile.processor = "Test CPU, 2 threads";
  profile.model = "soft_attention";
  profile.pruning = "none";
  profile.images = 4;
  profile.captions_per_image = 5;
  profile.beam_size = 3;
  profile.decode_rows = 12;
  profile.warmup_steps = 2;
  profile.rates.probe = {.copy_bytes = 256 << 20, .gemm_size = 2048, .repeats = 3};
  profile.rates.copy_bytes_per_second = 20e9;
  profile.rates.gemm_flops_per_second = 100e9;
  profile.training = {.name = "training step",
                      .wall_seconds = 0.1,
                      .kernels = {{"gemm", WorkKind::Flops, 10, 0.05, 2.5e9},
                                  {"copy_to_host", WorkKind::HostBytes, 1, 0.001, 2e6},
                                  {"allocate", WorkKind::None, 40, 0.0005, 0}}};
  profile.decoding = {.name = "decode step", .wall_seconds = 0.002, .kernels = {{"binary.add", WorkKind::Bytes, 3, 0.001, 12e6}}};
  const std::string expected =
      "sparsecap profile: soft_attention (pruning: none) on cpu (Test CPU, 2 threads)\n"
      "reference: copy 20.0 GB/s (256 MiB copied within the device, read + written, best of 3); GEMM 100.0 GFLOP/s "
      "(2048^3 float32, best of 3)\n"
      "\n"
      "training step of 4 images x 5 captions: 100.000 ms wall, 51.500 ms in kernels (51.5%), after 2 warm-up steps\n"
      "kernel                         calls     time ms   share          counted             rate % of reference\n"
      "gemm                              10      50.000   50.0%        2.5 GFLOP     50.0 GFLOP/s     50.0% gemm\n"
      "copy_to_host                       1       1.000    1.0%      2.0 MB host         2.0 GB/s              -\n"
      "allocate                          40       0.500    0.5%                -                -              -\n"
      "\n"
      "decode step of 12 rows (4 images x beam 3): 2.000 ms wall, 1.000 ms in kernels (50.0%), after 2 warm-up steps\n"
      "kernel                         calls     time ms   share          counted             rate % of reference\n"
      "binary.add                         3       1.000   50.0%          12.0 MB        12.0 GB/s     60.0% copy\n";
  EXPECT_EQ(format_step_profile(profile), expected);
}

}  // namespace
}  // namespace sparsecap::train
