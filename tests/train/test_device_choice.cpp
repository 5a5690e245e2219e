// choose_device: every accepted form against what a build and a runtime may offer, and the error
// of every request that cannot be met (never a silent fall-back to the CPU).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/error.h"
#include "train/device_choice.h"
#include "train/run_config.h"

namespace sparsecap::train {
namespace {

const std::vector<cuda::DeviceInfo> kTwoGpus = {{0, "GPU A", 9, 0, 1 << 30, 132}, {1, "GPU B", 8, 6, 1 << 30, 84}};

std::string error_of(const std::string& spec, bool built, const std::vector<cuda::DeviceInfo>& visible) {
  try {
    choose_device(spec, built, visible);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(DeviceChoice, AutoTakesTheFirstVisibleGpuElseTheCpuAndSaysWhy) {
  const DeviceChoice gpu = choose_device("auto", true, kTwoGpus);
  EXPECT_EQ(gpu.device, Device::cuda(0));
  EXPECT_EQ(gpu.describe(), "cuda:0 (default; GPU A, first of 2 visible CUDA devices)");
  const DeviceChoice no_device = choose_device("auto", true, {});
  EXPECT_EQ(no_device.device, Device::cpu());
  EXPECT_EQ(no_device.reason, "default; no CUDA device is visible");
  const DeviceChoice no_cuda = choose_device("auto", false, {});
  EXPECT_EQ(no_cuda.device, Device::cpu());
  EXPECT_EQ(no_cuda.reason, "default; this build has no CUDA");
}

TEST(DeviceChoice, ExplicitRequests) {
  EXPECT_EQ(choose_device("cpu", true, kTwoGpus).device, Device::cpu());
  EXPECT_EQ(choose_device("cuda", true, kTwoGpus).device, Device::cuda(0));
  const DeviceChoice second = choose_device("cuda:1", true, kTwoGpus);
  EXPECT_EQ(second.device, Device::cuda(1));
  EXPECT_EQ(second.describe(), "cuda:1 (asked for; GPU B)");
}

TEST(DeviceChoice, UnmetCudaRequestsAreErrorsThatSayWhy) {
  EXPECT_NE(error_of("cuda", false, {}).find("this build has no CUDA"), std::string::npos);
  EXPECT_NE(error_of("cuda:0", true, {}).find("no CUDA device is visible"), std::string::npos);
  EXPECT_EQ(error_of("cuda:2", true, kTwoGpus), "device \"cuda:2\": there are 2 visible CUDA devices (cuda:0..cuda:1)");
  for (const std::string bad : {"gpu", "cuda:", "cuda:-1", "cuda:1x", "CPU", ""})
    EXPECT_EQ(error_of(bad, true, kTwoGpus), "device \"" + bad + "\": expected auto, cpu, cuda or cuda:N") << bad;
}

TEST(DeviceChoice, RunConfigCarriesTheDevice) {
  EXPECT_EQ(parse_run_config(nlohmann::json::object()).device, "auto");
  const RunConfig config = parse_run_config(nlohmann::json::object(), {"device=cuda:1"});
  EXPECT_EQ(config.device, "cuda:1");
  EXPECT_EQ(nlohmann::json(config).at("device"), "cuda:1");
  try {
    parse_run_config({{"device", "tpu"}});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "device \"tpu\": expected auto, cpu, cuda or cuda:N");
  }
}

}  // namespace
}  // namespace sparsecap::train
