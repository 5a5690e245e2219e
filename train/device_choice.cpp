#include "train/device_choice.h"

#include <charconv>
#include <optional>

#include "engine/error.h"

namespace sparsecap::train {

namespace {

struct ParsedSpec {
  enum class Kind { Auto, Cpu, Cuda } kind = Kind::Auto;
  std::optional<int> index;  // cuda:N
};

ParsedSpec parse_device_spec(const std::string& spec) {
  if (spec == "auto") return {ParsedSpec::Kind::Auto, std::nullopt};
  if (spec == "cpu") return {ParsedSpec::Kind::Cpu, std::nullopt};
  if (spec == "cuda") return {ParsedSpec::Kind::Cuda, std::nullopt};
  const std::string prefix = "cuda:";
  if (spec.rfind(prefix, 0) == 0 && spec.size() > prefix.size()) {
    int index = -1;
    const char* first = spec.data() + prefix.size();
    const char* last = spec.data() + spec.size();
    const auto [end, error] = std::from_chars(first, last, index);
    if (error == std::errc() && end == last && index >= 0) return {ParsedSpec::Kind::Cuda, index};
  }
  throw Error("device \"" + spec + "\": expected auto, cpu, cuda or cuda:N");
}

std::string plural_devices(size_t count) {
  return std::to_string(count) + " visible CUDA device" + (count == 1 ? "" : "s");
}

}  // namespace

std::string DeviceChoice::describe() const { return device.str() + " (" + reason + ")"; }

void check_device_spec(const std::string& spec) { parse_device_spec(spec); }

DeviceChoice choose_device(const std::string& spec, bool built_with_cuda, const std::vector<cuda::DeviceInfo>& visible) {
  const ParsedSpec parsed = parse_device_spec(spec);
  if (parsed.kind == ParsedSpec::Kind::Cpu) return {Device::cpu(), "asked for"};
  if (parsed.kind == ParsedSpec::Kind::Auto) {
    if (!built_with_cuda) return {Device::cpu(), "default; this build has no CUDA"};
    if (visible.empty()) return {Device::cpu(), "default; no CUDA device is visible"};
    return {Device::cuda(0), "default; " + visible.front().name + ", first of " + plural_devices(visible.size())};
  }
  SPARSECAP_CHECK(built_with_cuda, "device \"", spec,
                  "\": this build has no CUDA (configure with -DSPARSECAP_CUDA=ON on a machine with the CUDA "
                  "toolkit), or use --device cpu");
  SPARSECAP_CHECK(!visible.empty(), "device \"", spec,
                  "\": no CUDA device is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES), or use --device cpu");
  const int index = parsed.index.value_or(0);
  SPARSECAP_CHECK(index < static_cast<int>(visible.size()), "device \"", spec, "\": there ",
                  visible.size() == 1 ? "is " : "are ", plural_devices(visible.size()), " (cuda:0..cuda:",
                  visible.size() - 1, ")");
  return {Device::cuda(index), "asked for; " + visible[static_cast<size_t>(index)].name};
}

DeviceChoice choose_device(const std::string& spec) {
  const bool built = cuda::built_with_cuda();
  return choose_device(spec, built, built ? cuda::devices() : std::vector<cuda::DeviceInfo>{});
}

}  // namespace sparsecap::train
