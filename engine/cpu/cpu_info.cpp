#include "engine/cpu/cpu_info.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

namespace sparsecap::cpu {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::vector<std::string> cpu_features() {
  std::vector<std::string> found;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) found.push_back("sse4.2");
  if (__builtin_cpu_supports("avx")) found.push_back("avx");
  if (__builtin_cpu_supports("avx2")) found.push_back("avx2");
  if (__builtin_cpu_supports("fma")) found.push_back("fma");
  if (__builtin_cpu_supports("avx512f")) found.push_back("avx512f");
  if (__builtin_cpu_supports("avx512bw")) found.push_back("avx512bw");
  if (__builtin_cpu_supports("avx512vl")) found.push_back("avx512vl");
  if (__builtin_cpu_supports("avx512vnni")) found.push_back("avx512vnni");
  if (__builtin_cpu_supports("avx512bf16")) found.push_back("avx512bf16");
  return found;
}

int thread_count() { return omp_get_max_threads(); }

namespace {

// A cache's "size" file: "32768K", "1024K" or "8M".
int64_t cache_size_bytes(const std::filesystem::path& file) {
  std::ifstream in(file);
  int64_t value = 0;
  char unit = 0;
  if (!(in >> value) || value <= 0) return 0;
  in >> unit;
  if (unit == 'K') return value << 10;
  if (unit == 'M') return value << 20;
  if (unit == 'G') return value << 30;
  return value;
}

int64_t largest_data_cache_bytes() {
  const std::filesystem::path folder = "/sys/devices/system/cpu/cpu0/cache";
  std::error_code error;
  int64_t largest = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    if (entry.path().filename().string().rfind("index", 0) != 0) continue;
    std::ifstream type_file(entry.path() / "type");
    std::string type;
    type_file >> type;
    if (type == "Data" || type == "Unified") largest = std::max(largest, cache_size_bytes(entry.path() / "size"));
  }
  return largest;
}

}  // namespace

int64_t last_level_cache_bytes() {
  static const int64_t bytes = [] {
    const int64_t found = largest_data_cache_bytes();
    return found > 0 ? found : int64_t{8} << 20;
  }();
  return bytes;
}

std::string gemm_library() {
  const dnnl_version_t* version = dnnl_version();
  return "oneDNN " + std::to_string(version->major) + "." + std::to_string(version->minor) + "." +
         std::to_string(version->patch) + " (dnnl_sgemm)";
}

}  // namespace sparsecap::cpu
