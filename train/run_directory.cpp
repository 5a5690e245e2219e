#include "train/run_directory.h"

#include "engine/error.h"

namespace sparsecap::train {

std::filesystem::path RunDirectory::evaluation_checkpoint() const {
  for (const auto& candidate : {best_checkpoint(), final_checkpoint(), last_checkpoint()})
    if (std::filesystem::exists(candidate)) return candidate;
  throw Error("run directory " + root.string() + " has no checkpoint (looked for best, final and last in " +
              checkpoints().string() + ")");
}

}  // namespace sparsecap::train
