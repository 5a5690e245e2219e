#pragma once
// A walk over a JPEG file's segments before stb_image decodes it. stb_image trusts the file: a
// scan that names a Huffman table no DHT segment defined makes it decode with uninitialised
// tables (a read out of bounds whose outcome depends on the heap's earlier contents; found by
// fuzz_image), a DHT whose code counts add up past 256 overruns its arrays, and a component whose
// quantisation table was never defined decodes to garbage pixels. Those files are refused here.
#include <cstdint>
#include <span>
#include <string>

namespace sparsecap::data {

// Throws a DataError naming `name` ("cannot decode image: ...") when a segment is cut short or
// malformed, a DHT or DQT table is invalid, or a scan uses a Huffman or quantisation table not
// defined before it. Entropy-coded data is skipped, not checked; a file cut inside it, or one
// without an end-of-image marker, is left to the decoder.
void check_jpeg_structure(std::span<const uint8_t> bytes, const std::string& name);

}  // namespace sparsecap::data
