#pragma once
// One function per `sparsecap` subcommand, each in its own cmd_*.cpp: it declares the options and
// a callback that parses nothing further, calls the library and prints.
#include <CLI/CLI.hpp>

namespace sparsecap::apps {

void add_info_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_caption_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_data_command(CLI::App& app);
void add_score_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_gates_command(CLI::App& app);
void add_pretrain_encoder_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_profile_command(CLI::App& app);

}  // namespace sparsecap::apps
