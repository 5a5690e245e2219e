// libFuzzer target: Karpathy split files (data/karpathy.h), from the bytes on disk.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "data/karpathy.h"
#include "fuzz/fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = sparsecap::fuzz::write_input_file(data, size, ".json");
  try {
    sparsecap::data::load_karpathy_json(path);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
