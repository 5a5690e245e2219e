// libFuzzer target: .npz archives (data/npz.h): the zip directory, stored and deflated members.
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>

#include "data/npz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    sparsecap::data::parse_npz(std::span<const uint8_t>(data, size), "fuzz.npz");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
