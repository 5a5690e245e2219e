#include "apps/device_option.h"

#include <cstdio>

#include "train/device_choice.h"

namespace sparsecap::apps {

void add_device_option(CLI::App& command, std::string& device) {
  command.add_option("--device", device,
                     "auto (default: the first CUDA device when there is one, else the CPU), cpu, cuda or cuda:N");
}

void apply_device_option(train::RunConfig& config, const std::string& spec) {
  if (spec.empty()) return;
  train::check_device_spec(spec);
  config.device = spec;
}

Device move_to_device(train::TrainedRun& run, const std::string& spec, const std::string& doing) {
  const train::DeviceChoice choice = train::choose_device(spec.empty() ? run.config.device : spec);
  std::fprintf(stderr, "sparsecap: %s on %s\n", doing.c_str(), choice.describe().c_str());
  run.model->to(choice.device);
  return choice.device;
}

}  // namespace sparsecap::apps
