#include "train/step_profile_report.h"

#include <array>
#include <cstdio>

#include "engine/error.h"

namespace sparsecap::train {

namespace {

using profiling::KernelTotals;
using profiling::WorkKind;

// 1234567 -> "1.2 M": decimal prefixes, as GB/s and GFLOP/s are quoted.
std::string with_prefix(double value, const std::string& unit) {
  static constexpr std::array<const char*, 5> prefixes = {"", "k", "M", "G", "T"};
  size_t prefix = 0;
  while (value >= 1000 && prefix + 1 < prefixes.size()) {
    value /= 1000;
    ++prefix;
  }
  char text[48];
  std::snprintf(text, sizeof text, "%.1f %s%s", value, prefixes[prefix], unit.c_str());
  return text;
}

const char* unit_of(WorkKind kind) { return kind == WorkKind::Flops ? "FLOP" : "B"; }

std::string counted_column(const KernelTotals& kernel) {
  if (kernel.kind == WorkKind::None) return "-";
  return with_prefix(kernel.amount, unit_of(kernel.kind)) + (kernel.kind == WorkKind::HostBytes ? " host" : "");
}

std::string rate_column(const KernelTotals& kernel, const KernelRow& row) {
  return row.per_second ? with_prefix(*row.per_second, std::string(unit_of(kernel.kind)) + "/s") : "-";
}

std::string reference_column(const KernelRow& row) {
  if (!row.percent_of_reference) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%% %s", *row.percent_of_reference, row.reference->c_str());
  return text;
}

// "training step of 8 images x 2 captions: 152.301 ms wall, ..."
std::string step_heading(const StepProfile& profile, const ProfiledStep& step, const std::string& what) {
  char text[320];
  std::snprintf(text, sizeof text, "%s %s: %.3f ms wall, %.3f ms in kernels (%.1f%%), after %lld warm-up step%s\n",
                step.name.c_str(), what.c_str(), 1e3 * step.wall_seconds, 1e3 * step.kernel_seconds(),
                step.wall_seconds > 0 ? 100.0 * step.kernel_seconds() / step.wall_seconds : 0.0,
                static_cast<long long>(profile.warmup_steps), profile.warmup_steps == 1 ? "" : "s");
  return text;
}

std::string step_table(const StepProfile& profile, const ProfiledStep& step, const std::string& what) {
  std::string out = step_heading(profile, step, what);
  char line[320];
  std::snprintf(line, sizeof line, "%-28s %7s %11s %7s %16s %16s %14s\n", "kernel", "calls", "time ms", "share",
                "counted", "rate", "% of reference");
  out += line;
  for (const KernelTotals& kernel : step.kernels) {
    const KernelRow row = kernel_row(kernel, step.wall_seconds, profile.rates);
    std::snprintf(line, sizeof line, "%-28s %7lld %11.3f %6.1f%% %16s %16s %14s\n", kernel.kernel.c_str(),
                  static_cast<long long>(kernel.calls), 1e3 * kernel.seconds, 100.0 * row.share,
                  counted_column(kernel).c_str(), rate_column(kernel, row).c_str(), reference_column(row).c_str());
    out += line;
  }
  return out;
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json step_json(const ProfiledStep& step, const profiling::DeviceRates& rates) {
  nlohmann::json kernels = nlohmann::json::array();
  for (const KernelTotals& kernel : step.kernels) {
    const KernelRow row = kernel_row(kernel, step.wall_seconds, rates);
    kernels.push_back({{"kernel", kernel.kernel},
                       {"calls", kernel.calls},
                       {"seconds", kernel.seconds},
                       {"share", row.share},
                       {"counts", std::string(profiling::work_kind_name(kernel.kind))},
                       {"amount", kernel.amount},
                       {"per_second", optional_json(row.per_second)},
                       {"percent_of_reference", optional_json(row.percent_of_reference)},
                       {"reference", row.reference ? nlohmann::json(*row.reference) : nlohmann::json(nullptr)}});
  }
  return {{"name", step.name},
          {"wall_seconds", step.wall_seconds},
          {"kernel_seconds", step.kernel_seconds()},
          {"kernels", kernels}};
}

}  // namespace

KernelRow kernel_row(const KernelTotals& kernel, double step_seconds, const profiling::DeviceRates& rates) {
  KernelRow row;
  row.share = step_seconds > 0 ? kernel.seconds / step_seconds : 0;
  if (kernel.kind == WorkKind::None || kernel.seconds <= 0) return row;
  row.per_second = kernel.amount / kernel.seconds;
  if (kernel.kind == WorkKind::Bytes && rates.copy_bytes_per_second > 0) {
    row.percent_of_reference = 100.0 * *row.per_second / rates.copy_bytes_per_second;
    row.reference = "copy";
  } else if (kernel.kind == WorkKind::Flops && rates.gemm_flops_per_second > 0) {
    row.percent_of_reference = 100.0 * *row.per_second / rates.gemm_flops_per_second;
    row.reference = "gemm";
  }
  return row;
}

nlohmann::json step_profile_to_json(const StepProfile& profile) {
  const profiling::RateProbe& probe = profile.rates.probe;
  return {{"device", profile.device},
          {"processor", profile.processor},
          {"model", profile.model},
          {"pruning", profile.pruning},
          {"images", profile.images},
          {"captions_per_image", profile.captions_per_image},
          {"decode_rows", profile.decode_rows},
          {"beam_size", profile.beam_size},
          {"warmup_steps", profile.warmup_steps},
          {"reference",
           {{"copy_bytes", probe.copy_bytes},
            {"copy_bytes_per_second", profile.rates.copy_bytes_per_second},
            {"gemm_size", probe.gemm_size},
            {"gemm_flops_per_second", profile.rates.gemm_flops_per_second},
            {"repeats", probe.repeats}}},
          {"steps", {step_json(profile.training, profile.rates), step_json(profile.decoding, profile.rates)}}};
}

std::string format_step_profile(const StepProfile& profile) {
  const profiling::RateProbe& probe = profile.rates.probe;
  std::string out = detail::concat("sparsecap profile: ", profile.model, " (pruning: ", profile.pruning, ") on ",
                                   profile.device, " (", profile.processor, ")\n");
  char line[320];
  std::snprintf(line, sizeof line,
                "reference: copy %s (%.0f MiB copied within the device, read + written, best of %d); GEMM %s "
                "(%lld^3 float32, best of %d)\n\n",
                with_prefix(profile.rates.copy_bytes_per_second, "B/s").c_str(),
                static_cast<double>(probe.copy_bytes) / (1 << 20), probe.repeats,
                with_prefix(profile.rates.gemm_flops_per_second, "FLOP/s").c_str(),
                static_cast<long long>(probe.gemm_size), probe.repeats);
  out += line;
  out += step_table(profile, profile.training,
                    detail::concat("of ", profile.images, " images x ", profile.captions_per_image, " captions"));
  out += "\n";
  out += step_table(profile, profile.decoding,
                    detail::concat("of ", profile.decode_rows, " rows (", profile.images, " images x beam ",
                                   profile.beam_size, ")"));
  return out;
}

}  // namespace sparsecap::train
