#pragma once
// `--device` on the commands that compute (train, eval, caption, export, demo), and moving a
// loaded run's model to the device chosen.
#include <string>

#include <CLI/CLI.hpp>

#include "engine/device.h"
#include "train/trained_run.h"

namespace sparsecap::apps {

// Adds --device auto|cpu|cuda|cuda:N to `command`, stored in `device` (left empty when not given).
void add_device_option(CLI::App& command, std::string& device);

// A --device given on the command line (non-empty `spec`, checked) replaces the config's.
void apply_device_option(train::RunConfig& config, const std::string& spec);

// The device for `spec` (empty: the run's config device, "auto" unless the run set one), named
// on stderr with the reason ("sparsecap: evaluating on cuda:0 (...)"); the run's model is moved
// there. A CUDA request that cannot be met throws.
Device move_to_device(train::TrainedRun& run, const std::string& spec, const std::string& doing);

}  // namespace sparsecap::apps
