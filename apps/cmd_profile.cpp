// `sparsecap profile`: one training step and one decode step of a run config, kernel by kernel
// (train/step_profile.h), as a table or JSON on stdout.
#include <iostream>

#include "apps/commands.h"
#include "apps/device_option.h"
#include "train/step_profile.h"
#include "train/step_profile_report.h"

namespace sparsecap::apps {

namespace {

struct ProfileArguments {
  std::string config;
  std::vector<std::string> overrides;
  std::string device;
  bool json = false;
  int64_t warmup = 1;
  int64_t beam = 3;
};

void run_profile(const ProfileArguments& args) {
  train::RunConfig config = train::load_run_config(args.config, args.overrides);
  apply_device_option(config, args.device);
  train::StepProfileOptions options;
  options.warmup_steps = args.warmup;
  options.beam_size = args.beam;
  const train::StepProfile profile = train::profile_steps(config, options);
  if (args.json)
    std::cout << train::step_profile_to_json(profile).dump(2) << "\n";
  else
    std::cout << train::format_step_profile(profile);
}

}  // namespace

void add_profile_command(CLI::App& app) {
  auto args = std::make_shared<ProfileArguments>();
  CLI::App* command = app.add_subcommand(
      "profile", "Time one training step and one decode step of a config kernel by kernel, against the device's "
                 "measured copy and GEMM rates");
  command->add_option("--config", args->config, "config file (configs/*.json)")->required();
  command->add_option("--set", args->overrides, "override a config value: section.key=value (repeatable)");
  add_device_option(*command, args->device);
  command->add_flag("--json", args->json, "print the profile as JSON instead of tables");
  command->add_option("--warmup", args->warmup, "training and decode steps run before the profiled ones")
      ->capture_default_str();
  command->add_option("--beam", args->beam, "decoder rows per image in the decode step")->capture_default_str();
  command->callback([args] { run_profile(*args); });
}

}  // namespace sparsecap::apps
