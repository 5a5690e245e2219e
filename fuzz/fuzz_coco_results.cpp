// libFuzzer target: COCO results and reference files (eval/coco_results.h).
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "eval/coco_results.h"
#include "fuzz/fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = sparsecap::fuzz::write_input_file(data, size, ".json");
  try {
    sparsecap::eval::read_candidate_captions(path);
  } catch (const std::runtime_error&) {
  }
  try {
    sparsecap::eval::read_reference_captions(path, "test");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
