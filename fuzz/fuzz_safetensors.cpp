// libFuzzer target: safetensors files (engine/serialize/safetensors.h) as checkpoints are read.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "engine/serialize/checkpoint.h"
#include "fuzz/fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = sparsecap::fuzz::write_input_file(data, size, ".safetensors");
  try {
    const sparsecap::Checkpoint checkpoint = sparsecap::load_checkpoint(path);
    sparsecap::require_finite_tensors(checkpoint);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
