// libFuzzer target: .npy parsing (data/npy.h). Any input must end in a value or a DataError.
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>

#include "data/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto array = sparsecap::data::parse_npy(std::span<const uint8_t>(data, size), "fuzz.npy");
    sparsecap::data::require_all_finite(array, "fuzz.npy");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
