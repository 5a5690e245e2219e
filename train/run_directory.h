#pragma once
// The files of a run directory, in one place.
#include <filesystem>

namespace sparsecap::train {

struct RunDirectory {
  std::filesystem::path root;

  std::filesystem::path config() const { return root / "config.json"; }        // resolved config
  std::filesystem::path vocabulary() const { return root / "vocabulary.json"; }
  std::filesystem::path log() const { return root / "log.jsonl"; }              // one record per line
  std::filesystem::path checkpoints() const { return root / "checkpoints"; }
  std::filesystem::path last_checkpoint() const { return checkpoints() / "last.safetensors"; }
  std::filesystem::path best_checkpoint() const { return checkpoints() / "best.safetensors"; }
  std::filesystem::path final_checkpoint() const { return checkpoints() / "final.safetensors"; }
  // The checkpoint evaluation uses by default: the best one, else the final one, else the last.
  std::filesystem::path evaluation_checkpoint() const;
};

}  // namespace sparsecap::train
