// The `sparsecap` command line: subcommands are thin (parse, call, print). Every error reaches
// the user as one line on stderr and a non-zero exit code.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "apps/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"sparsecap: train, prune, export and run sparse image-captioning models"};
  app.require_subcommand(1);
  sparsecap::apps::add_info_command(app);
  sparsecap::apps::add_train_command(app);
  sparsecap::apps::add_eval_command(app);
  sparsecap::apps::add_caption_command(app);
  sparsecap::apps::add_demo_command(app);
  sparsecap::apps::add_data_command(app);
  sparsecap::apps::add_score_command(app);
  sparsecap::apps::add_export_command(app);
  sparsecap::apps::add_gates_command(app);
  sparsecap::apps::add_pretrain_encoder_command(app);
  sparsecap::apps::add_sweep_command(app);
  sparsecap::apps::add_profile_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {  // a missing option, a file that does not exist, ...: one line
    std::cerr << "sparsecap: error: " << e.what() << " (see --help)\n";
    return e.get_exit_code() != 0 ? e.get_exit_code() : 1;
  } catch (const std::exception& e) {
    std::cerr << "sparsecap: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
