// libFuzzer target: images through the image loader (data/image.h: format and size checks, then
// stb_image).
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>

#include "data/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    sparsecap::data::decode_image(std::span<const uint8_t>(data, size), "fuzz.png");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
