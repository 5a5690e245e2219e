// libFuzzer target: run configs (train/run_config.h): the JSON reader with its limits, every
// section's keys and ranges, the captioner and pruning registries' validation.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "fuzz/fuzz_input_file.h"
#include "train/run_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = sparsecap::fuzz::write_input_file(data, size, ".json");
  try {
    sparsecap::train::load_run_config(path);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
