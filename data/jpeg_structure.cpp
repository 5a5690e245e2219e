#include "data/jpeg_structure.h"

#include <array>
#include <vector>

#include "data/data_error.h"

namespace sparsecap::data {

namespace {

// The markers this walk acts on (ITU T.81, table B.1).
constexpr uint8_t kStartOfFrameBaseline = 0xC0, kStartOfFrameExtended = 0xC1, kStartOfFrameProgressive = 0xC2;
constexpr uint8_t kDefineHuffmanTables = 0xC4, kStartOfScan = 0xDA, kDefineQuantisationTables = 0xDB;
constexpr uint8_t kEndOfImage = 0xD9, kTemporary = 0x01;
constexpr int kTableSlots = 4;

bool is_restart(uint8_t marker) { return marker >= 0xD0 && marker <= 0xD7; }

class JpegWalk {
 public:
  JpegWalk(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  void run() {
    size_t offset = 2;  // after SOI
    while (offset + 1 < bytes_.size()) {
      if (bytes_[offset] != 0xFF) fail("expected a marker at byte " + std::to_string(offset));
      while (offset + 1 < bytes_.size() && bytes_[offset + 1] == 0xFF) ++offset;  // fill bytes
      if (offset + 1 >= bytes_.size()) return;
      const uint8_t marker = bytes_[offset + 1];
      if (marker == kEndOfImage) return;
      if (is_restart(marker) || marker == kTemporary) {
        offset += 2;
        continue;
      }
      if (offset + 4 > bytes_.size()) fail("segment header cut short at byte " + std::to_string(offset));
      const size_t length = (size_t{bytes_[offset + 2]} << 8) | bytes_[offset + 3];
      if (length < 2 || offset + 2 + length > bytes_.size())
        fail("segment at byte " + std::to_string(offset) + " claims " + std::to_string(length) +
             " bytes, past the end of the file (" + std::to_string(bytes_.size()) + " bytes)");
      const std::span<const uint8_t> segment = bytes_.subspan(offset + 4, length - 2);
      const size_t at = offset;
      offset += 2 + length;
      switch (marker) {
        case kDefineHuffmanTables: read_huffman_tables(segment, at); break;
        case kDefineQuantisationTables: read_quantisation_tables(segment, at); break;
        case kStartOfFrameBaseline:
        case kStartOfFrameExtended:
        case kStartOfFrameProgressive: read_frame(segment, marker == kStartOfFrameProgressive, at); break;
        case kStartOfScan:
          check_scan(segment, at);
          offset = after_entropy_coded_data(offset);
          break;
        default: break;  // APPn, COM, DRI, ...: nothing stb could misuse
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw DataError(name_, "cannot decode image: JPEG " + problem);
  }

  void read_huffman_tables(std::span<const uint8_t> segment, size_t at) {
    size_t pos = 0;
    while (pos < segment.size()) {
      if (pos + 17 > segment.size()) fail("Huffman table at byte " + std::to_string(at) + " is cut short");
      const int table_class = segment[pos] >> 4, slot = segment[pos] & 15;
      if (table_class > 1 || slot >= kTableSlots)
        fail("Huffman table at byte " + std::to_string(at) + " has class " + std::to_string(table_class) +
             " and slot " + std::to_string(slot) + " (at most 1 and 3)");
      size_t codes = 0;
      for (size_t i = 1; i <= 16; ++i) codes += segment[pos + i];
      if (codes > 256 || pos + 17 + codes > segment.size())
        fail("Huffman table at byte " + std::to_string(at) + " has " + std::to_string(codes) +
             " codes (at most 256, within its segment)");
      (table_class == 0 ? dc_defined_ : ac_defined_)[static_cast<size_t>(slot)] = true;
      pos += 17 + codes;
    }
  }

  void read_quantisation_tables(std::span<const uint8_t> segment, size_t at) {
    size_t pos = 0;
    while (pos < segment.size()) {
      const int precision = segment[pos] >> 4, slot = segment[pos] & 15;
      const size_t size = precision == 0 ? 64 : 128;
      if (precision > 1 || slot >= kTableSlots || pos + 1 + size > segment.size())
        fail("quantisation table at byte " + std::to_string(at) + " is malformed (precision " +
             std::to_string(precision) + ", slot " + std::to_string(slot) + ")");
      quantisation_defined_[static_cast<size_t>(slot)] = true;
      pos += 1 + size;
    }
  }

  void read_frame(std::span<const uint8_t> segment, bool progressive, size_t at) {
    if (segment.size() < 6) fail("frame header at byte " + std::to_string(at) + " is cut short");
    const size_t components = segment[5];
    if (segment.size() < 6 + 3 * components) fail("frame header at byte " + std::to_string(at) + " is cut short");
    progressive_ = progressive;
    frame_quantisation_.clear();
    for (size_t c = 0; c < components; ++c) frame_quantisation_.push_back(segment[6 + 3 * c + 2]);
    frame_seen_ = true;
  }

  void check_scan(std::span<const uint8_t> segment, size_t at) {
    const std::string where = "scan at byte " + std::to_string(at);
    if (!frame_seen_) fail(where + " comes before any frame header");
    for (const uint8_t slot : frame_quantisation_)
      if (slot >= kTableSlots || !quantisation_defined_[slot])
        fail(where + " decodes a component with quantisation table " + std::to_string(slot) +
             ", which no DQT segment defined");
    if (segment.empty() || segment.size() < 1 + 2 * size_t{segment[0]} + 3) fail(where + " has a cut-short header");
    const size_t components = segment[0];
    const uint8_t spectral_start = segment[1 + 2 * components];
    const uint8_t approximation_high = segment[3 + 2 * components] >> 4;
    // Which tables the scan decodes with: baseline both; a progressive DC scan its DC table on the
    // first pass only (refinements read raw bits); a progressive AC scan its AC table.
    const bool uses_dc = !progressive_ || (spectral_start == 0 && approximation_high == 0);
    const bool uses_ac = !progressive_ || spectral_start > 0;
    for (size_t c = 0; c < components; ++c) {
      const int dc = segment[2 + 2 * c] >> 4, ac = segment[2 + 2 * c] & 15;
      if (uses_dc && (dc >= kTableSlots || !dc_defined_[static_cast<size_t>(dc)]))
        fail(where + " uses DC Huffman table " + std::to_string(dc) + ", which no DHT segment defined");
      if (uses_ac && (ac >= kTableSlots || !ac_defined_[static_cast<size_t>(ac)]))
        fail(where + " uses AC Huffman table " + std::to_string(ac) + ", which no DHT segment defined");
    }
  }

  // The offset of the first marker after a scan's entropy-coded data (0xFF 0x00 is a stuffed data
  // byte, 0xFF 0xD0-0xD7 a restart marker inside the data); the file's size when there is none.
  size_t after_entropy_coded_data(size_t offset) const {
    for (; offset + 1 < bytes_.size(); ++offset)
      if (bytes_[offset] == 0xFF && bytes_[offset + 1] != 0x00 && !is_restart(bytes_[offset + 1]) &&
          bytes_[offset + 1] != 0xFF)
        return offset;
    return bytes_.size();
  }

  std::span<const uint8_t> bytes_;
  const std::string& name_;
  std::array<bool, kTableSlots> dc_defined_{}, ac_defined_{}, quantisation_defined_{};
  std::vector<uint8_t> frame_quantisation_;
  bool frame_seen_ = false, progressive_ = false;
};

}  // namespace

void check_jpeg_structure(std::span<const uint8_t> bytes, const std::string& name) { JpegWalk(bytes, name).run(); }

}  // namespace sparsecap::data
