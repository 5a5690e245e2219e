// `sparsecap info`: version, build options, CPU, threads, GEMM library and CUDA devices; with
// --model CONFIG, the parameter counts of that config's captioner instead.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "cuda/cuda_runtime_info.h"
#include "engine/cpu/cpu_info.h"
#include "engine/error.h"
#include "train/device_choice.h"
#include "train/model_info.h"
#include "train/run_config.h"

namespace sparsecap::apps {

namespace {

struct InfoArguments {
  std::string model_config;
  std::vector<std::string> overrides;
  int64_t vocabulary_size = train::kReferenceVocabularySize;
};

void print_parameter_counts(const InfoArguments& args) {
  const train::RunConfig config = train::load_run_config(args.model_config, args.overrides);
  std::cout << train::format_parameter_counts(train::count_model_parameters(config.model, args.vocabulary_size));
}

// What --device auto picks on this machine, and why.
void print_default_device() {
  std::cout << "device:       " << train::choose_device("auto").describe() << " for --device auto\n";
}

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
  std::cout << "cache:        " << (cpu::last_level_cache_bytes() >> 10) << " KiB (last level)\n";
  std::cout << "gemm:         " << cpu::gemm_library() << "\n";
  print_default_device();
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
  CLI::App* command = app.add_subcommand(
      "info", "Print version, build options, CPU, threads and CUDA devices, or a model's parameter counts");
  auto args = std::make_shared<InfoArguments>();
  command->add_option("--model", args->model_config, "config file (configs/*.json): print its model's parameter counts");
  command->add_option("--set", args->overrides, "override a config value: section.key=value (repeatable)");
  command->add_option("--vocabulary-size", args->vocabulary_size,
                      "vocabulary size for --model, special tokens included")
      ->capture_default_str();
  command->callback([args] {
    if (args->model_config.empty()) {
      if (!args->overrides.empty()) throw Error("--set needs --model CONFIG");
      print_info();
    } else {
      print_parameter_counts(*args);
    }
  });
}

}  // namespace sparsecap::apps
