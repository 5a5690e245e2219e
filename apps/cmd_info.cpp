// `sparsecap info`: version, build options, CPU, threads, GEMM library and CUDA devices.
#include <iostream>

#include "apps/commands.h"
#include "cuda/cuda_runtime_info.h"
#include "engine/cpu/cpu_info.h"

namespace sparsecap::apps {

namespace {

void print_info() {
  std::cout << "sparsecap " << SPARSECAP_VERSION << "\n";
#ifdef SPARSECAP_SANITIZE
  const char* sanitize = "on";
#else
  const char* sanitize = "off";
#endif
  std::cout << "build:        CUDA " << (cuda::built_with_cuda() ? "on" : "off") << ", sanitizers " << sanitize
            << ", compiler " << __VERSION__ << "\n";
  std::cout << "cpu:          " << cpu::cpu_model() << "\n";
  std::cout << "cpu features:";
  for (const std::string& feature : cpu::cpu_features()) std::cout << " " << feature;
  std::cout << "\nthreads:      " << cpu::thread_count() << " (OpenMP; set OMP_NUM_THREADS to change)\n";
  std::cout << "gemm:         " << cpu::gemm_library() << "\n";
  if (!cuda::built_with_cuda()) {
    std::cout << "cuda:         built without CUDA\n";
    return;
  }
  std::cout << "cuda:         " << cuda::runtime_summary() << ", compiled for sm " << cuda::compiled_architectures()
            << "\n";
  const auto found = cuda::devices();
  if (found.empty()) std::cout << "cuda devices: none found\n";
  for (const auto& device : found)
    std::cout << "cuda:" << device.index << "       " << device.name << ", sm_" << device.compute_major
              << device.compute_minor << ", " << device.memory_bytes / (1024 * 1024) << " MiB, "
              << device.multiprocessors << " SMs\n";
}

}  // namespace

void add_info_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("info", "Print version, build options, CPU, threads and CUDA devices");
  command->callback(print_info);
}

}  // namespace sparsecap::apps
