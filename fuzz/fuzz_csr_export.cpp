// libFuzzer target: the CSR export reader (engine/sparse/csr_file.h): safetensors plus the CSR
// invariants (row pointers, column indices, shapes).
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "engine/sparse/csr_file.h"
#include "fuzz/fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = sparsecap::fuzz::write_input_file(data, size, ".safetensors");
  try {
    sparsecap::sparse::read_model_file(path);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
