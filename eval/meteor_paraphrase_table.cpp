#include "eval/meteor_paraphrase_table.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

namespace sparsecap::eval {
namespace {

std::uint32_t hash_phrase(std::string_view phrase) {
  return static_cast<std::uint32_t>(std::hash<std::string_view>{}(phrase));
}

bool looks_like_probability(std::string_view line) {
  if (line.empty()) return false;
  return std::all_of(line.begin(), line.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+';
  });
}

int word_count(std::string_view phrase) { return 1 + static_cast<int>(std::count(phrase.begin(), phrase.end(), ' ')); }

}  // namespace

// The index's arrays when built in memory (the table views them; see view()).
struct MeteorParaphraseTable::Arrays {
  std::string phrase_bytes;
  std::vector<std::uint32_t> phrase_starts;
  std::vector<std::uint64_t> slots;
  std::vector<std::uint32_t> paraphrase_starts;
  std::vector<PhraseId> paraphrases;
  int longest_phrase_words = 0;
};

// Turns the lines of a table into the compact index, one line at a time.
class MeteorParaphraseTable::Builder {
 public:
  explicit Builder(std::string source_name)
      : source_name_(std::move(source_name)), arrays_(std::make_shared<Arrays>()) {
    arrays_->slots.assign(std::size_t{1} << 16, 0);
    arrays_->phrase_starts.push_back(0);
  }

  void add_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    switch (line_number_ % 3) {
      case 0:
        if (!looks_like_probability(line)) fail("expected a probability", line);
        break;
      case 1:
        // Lines are grouped by their first phrase: most of them repeat the previous one.
        if (current_phrase_ == kNotAPhrase || line != phrase_text(current_phrase_)) {
          current_phrase_ = intern(line);
        }
        break;
      default:
        pairs_.push_back({current_phrase_, intern(line)});
        break;
    }
    ++line_number_;
  }

  MeteorParaphraseTable finish() {
    if (line_number_ % 3 != 0) fail("the file ends inside a triple (probability, phrase, paraphrase)", {});
    if (pairs_.empty()) fail("no paraphrases found", {});
    build_rows();
    MeteorParaphraseTable table;
    table.view(std::move(arrays_));
    return table;
  }

 private:
  struct Pair {
    PhraseId phrase;
    PhraseId paraphrase;
  };

  [[noreturn]] void fail(const std::string& what, std::string_view line) const {
    throw std::runtime_error("corrupt METEOR paraphrase table " + source_name_ + ": " + what + " at line " +
                             std::to_string(line_number_ + 1) +
                             (line.empty() ? "" : " (\"" + std::string(line.substr(0, 60)) + "\")"));
  }

  std::size_t phrase_count() const { return arrays_->phrase_starts.size() - 1; }
  std::string_view phrase_text(PhraseId id) const {
    const auto& starts = arrays_->phrase_starts;
    return std::string_view(arrays_->phrase_bytes).substr(starts[id], starts[id + 1] - starts[id]);
  }

  PhraseId intern(std::string_view phrase) {
    if (phrase.empty() || phrase.front() == ' ' || phrase.back() == ' ') fail("expected a phrase", phrase);
    const std::uint32_t hash = hash_phrase(phrase);
    const std::size_t mask = arrays_->slots.size() - 1;
    std::size_t slot = hash & mask;
    for (; arrays_->slots[slot] != 0; slot = (slot + 1) & mask) {
      const std::uint64_t entry = arrays_->slots[slot];
      const auto id = static_cast<PhraseId>((entry & 0xFFFFFFFFu) - 1);
      if ((entry >> 32) == hash && phrase_text(id) == phrase) return id;
    }
    const auto id = static_cast<PhraseId>(phrase_count());
    arrays_->phrase_bytes.append(phrase);
    if (arrays_->phrase_bytes.size() > 0xFFFFFFF0u) fail("phrases exceed 4 GiB", {});
    arrays_->phrase_starts.push_back(static_cast<std::uint32_t>(arrays_->phrase_bytes.size()));
    arrays_->longest_phrase_words = std::max(arrays_->longest_phrase_words, word_count(phrase));
    arrays_->slots[slot] = slot_entry(hash, id);
    if (2 * phrase_count() > arrays_->slots.size()) grow_slots();
    return id;
  }

  static std::uint64_t slot_entry(std::uint32_t hash, PhraseId id) {
    return (std::uint64_t{hash} << 32) | (std::uint64_t{id} + 1);
  }

  // Doubles the slots, keeping the load factor at or below one half.
  void grow_slots() {
    std::vector<std::uint64_t> old = std::move(arrays_->slots);
    arrays_->slots.assign(old.size() * 2, 0);
    const std::size_t mask = arrays_->slots.size() - 1;
    for (std::uint64_t entry : old) {
      if (entry == 0) continue;
      std::size_t slot = (entry >> 32) & mask;
      while (arrays_->slots[slot] != 0) slot = (slot + 1) & mask;
      arrays_->slots[slot] = entry;
    }
  }

  // Counting sort of the pairs by first phrase into compressed rows.
  void build_rows() {
    const std::size_t phrases = phrase_count();
    std::vector<std::uint32_t>& starts = arrays_->paraphrase_starts;
    starts.assign(phrases + 1, 0);
    for (const Pair& pair : pairs_) ++starts[pair.phrase + 1];
    for (std::size_t i = 0; i < phrases; ++i) starts[i + 1] += starts[i];
    arrays_->paraphrases.resize(pairs_.size());
    std::vector<std::uint32_t> next(starts.begin(), starts.end() - 1);
    for (const Pair& pair : pairs_) arrays_->paraphrases[next[pair.phrase]++] = pair.paraphrase;
    for (std::size_t i = 0; i < phrases; ++i) {
      std::sort(arrays_->paraphrases.begin() + starts[i], arrays_->paraphrases.begin() + starts[i + 1]);
    }
    pairs_.clear();
    pairs_.shrink_to_fit();
    arrays_->phrase_bytes.shrink_to_fit();
  }

  std::string source_name_;
  std::shared_ptr<Arrays> arrays_;
  std::vector<Pair> pairs_;
  std::size_t line_number_ = 0;
  PhraseId current_phrase_ = kNotAPhrase;
};

void MeteorParaphraseTable::view(std::shared_ptr<const Arrays> arrays) {
  phrase_bytes_ = arrays->phrase_bytes;
  phrase_starts_ = arrays->phrase_starts;
  slots_ = arrays->slots;
  paraphrase_starts_ = arrays->paraphrase_starts;
  paraphrases_ = arrays->paraphrases;
  longest_phrase_words_ = arrays->longest_phrase_words;
  storage_ = std::move(arrays);
}

MeteorParaphraseTable MeteorParaphraseTable::parse_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(name.c_str(), "rb"), gzclose);
  if (!file) throw std::runtime_error("cannot open METEOR paraphrase table " + name);
  gzbuffer(file.get(), 1 << 20);
  Builder builder(name);
  std::vector<char> buffer(std::size_t{8} << 20);
  std::size_t filled = 0;  // bytes of an unfinished line carried over from the previous read
  while (true) {
    const int read = gzread(file.get(), buffer.data() + filled, static_cast<unsigned>(buffer.size() - filled));
    if (read < 0) {
      int code = 0;
      throw std::runtime_error("cannot read METEOR paraphrase table " + name + ": " + gzerror(file.get(), &code));
    }
    const std::size_t end = filled + static_cast<std::size_t>(read);
    std::size_t line_start = 0;
    while (true) {
      const void* newline = std::memchr(buffer.data() + line_start, '\n', end - line_start);
      if (newline == nullptr) break;
      const auto line_end = static_cast<std::size_t>(static_cast<const char*>(newline) - buffer.data());
      builder.add_line(std::string_view(buffer.data() + line_start, line_end - line_start));
      line_start = line_end + 1;
    }
    filled = end - line_start;
    if (read == 0) {
      if (filled > 0) builder.add_line(std::string_view(buffer.data() + line_start, filled));
      break;
    }
    std::memmove(buffer.data(), buffer.data() + line_start, filled);
    if (filled == buffer.size()) buffer.resize(buffer.size() * 2);  // a line longer than the buffer
  }
  int code = Z_OK;
  const char* message = gzerror(file.get(), &code);
  if (code != Z_OK) throw std::runtime_error("cannot read METEOR paraphrase table " + name + ": " + message);
  return builder.finish();
}

// The cached index: a header, then the arrays, each at an 8-byte aligned offset, in the byte
// order of the machine that wrote it (a cache, never shared between machines).
class MeteorParaphraseTable::IndexFile {
 public:
  struct Header {
    char magic[8];
    std::uint32_t version;
    std::uint32_t longest_phrase_words;
    std::uint64_t source_size;
    std::int64_t source_modified;
    std::uint64_t phrase_bytes;
    std::uint64_t phrase_starts;
    std::uint64_t slots;
    std::uint64_t paraphrase_starts;
    std::uint64_t paraphrases;
  };
  static constexpr char kMagic[8] = {'S', 'P', 'C', 'P', 'A', 'R', 'A', 'X'};
  static constexpr std::uint32_t kVersion = 1;

  // Where the index of `source` lives: one file per source path.
  static std::filesystem::path path_for(const std::filesystem::path& source, const std::filesystem::path& directory) {
    const std::string absolute = std::filesystem::absolute(source).lexically_normal().string();
    char name[64];
    std::snprintf(name, sizeof name, "paraphrase-index-%016zx.bin", std::hash<std::string>{}(absolute));
    return directory / name;
  }

  static Header header_for(const std::filesystem::path& source) {
    Header header{};
    std::memcpy(header.magic, kMagic, sizeof kMagic);
    header.version = kVersion;
    header.source_size = std::filesystem::file_size(source);
    header.source_modified = std::filesystem::last_write_time(source).time_since_epoch().count();
    return header;
  }

  static std::size_t aligned(std::size_t bytes) { return (bytes + 7) / 8 * 8; }

  static std::size_t expected_size(const Header& h) {
    return sizeof(Header) + aligned(h.slots * 8) + aligned(h.phrase_starts * 4) + aligned(h.paraphrase_starts * 4) +
           aligned(h.paraphrases * 4) + aligned(h.phrase_bytes);
  }

  // The mapped table, or nothing when the index is missing, stale or damaged (then it is rebuilt).
  static std::optional<MeteorParaphraseTable> map(const std::filesystem::path& index, const Header& expected) {
    const int fd = ::open(index.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct stat info {};
    const bool stat_ok = ::fstat(fd, &info) == 0 && static_cast<std::size_t>(info.st_size) >= sizeof(Header);
    void* address = stat_ok ? ::mmap(nullptr, static_cast<std::size_t>(info.st_size), PROT_READ, MAP_PRIVATE, fd, 0)
                            : MAP_FAILED;
    ::close(fd);
    if (address == MAP_FAILED) return std::nullopt;
    const auto size = static_cast<std::size_t>(info.st_size);
    std::shared_ptr<const void> mapping(address, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
    Header h;
    std::memcpy(&h, address, sizeof h);
    const bool current = std::memcmp(h.magic, kMagic, sizeof kMagic) == 0 && h.version == kVersion &&
                         h.source_size == expected.source_size && h.source_modified == expected.source_modified &&
                         expected_size(h) == size && h.phrase_starts == h.paraphrase_starts && h.phrase_starts > 0 &&
                         h.slots > 0 && (h.slots & (h.slots - 1)) == 0;
    if (!current) return std::nullopt;
    const char* cursor = static_cast<const char*>(address) + sizeof(Header);
    const auto take = [&cursor](std::size_t bytes) {
      const char* start = cursor;
      cursor += aligned(bytes);
      return start;
    };
    MeteorParaphraseTable table;
    table.slots_ = {reinterpret_cast<const std::uint64_t*>(take(h.slots * 8)), h.slots};
    table.phrase_starts_ = {reinterpret_cast<const std::uint32_t*>(take(h.phrase_starts * 4)), h.phrase_starts};
    table.paraphrase_starts_ = {reinterpret_cast<const std::uint32_t*>(take(h.paraphrase_starts * 4)),
                                h.paraphrase_starts};
    table.paraphrases_ = {reinterpret_cast<const PhraseId*>(take(h.paraphrases * 4)), h.paraphrases};
    table.phrase_bytes_ = {take(h.phrase_bytes), h.phrase_bytes};
    if (table.phrase_starts_.back() != h.phrase_bytes || table.paraphrase_starts_.back() != h.paraphrases) {
      return std::nullopt;
    }
    table.longest_phrase_words_ = static_cast<int>(h.longest_phrase_words);
    table.storage_ = std::move(mapping);
    table.loaded_from_index_ = true;
    return table;
  }

  // Written to a temporary file and renamed, so a reader never maps a half-written index.
  static void write(const MeteorParaphraseTable& table, Header header, const std::filesystem::path& index) {
    header.longest_phrase_words = static_cast<std::uint32_t>(table.longest_phrase_words_);
    header.phrase_bytes = table.phrase_bytes_.size();
    header.phrase_starts = table.phrase_starts_.size();
    header.slots = table.slots_.size();
    header.paraphrase_starts = table.paraphrase_starts_.size();
    header.paraphrases = table.paraphrases_.size();
    std::error_code error;
    std::filesystem::create_directories(index.parent_path(), error);
    const std::filesystem::path temporary = index.string() + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      if (!out) return;  // a cache: not being able to write it only costs time
      const auto put = [&out](const void* data, std::size_t bytes) {
        out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
        static constexpr char zeros[8] = {};
        out.write(zeros, static_cast<std::streamsize>(aligned(bytes) - bytes));
      };
      put(&header, sizeof header);
      put(table.slots_.data(), table.slots_.size_bytes());
      put(table.phrase_starts_.data(), table.phrase_starts_.size_bytes());
      put(table.paraphrase_starts_.data(), table.paraphrase_starts_.size_bytes());
      put(table.paraphrases_.data(), table.paraphrases_.size_bytes());
      put(table.phrase_bytes_.data(), table.phrase_bytes_.size());
      if (!out.flush()) {
        std::filesystem::remove(temporary, error);
        return;
      }
    }
    std::filesystem::rename(temporary, index, error);
    if (error) std::filesystem::remove(temporary, error);
  }
};

std::optional<std::filesystem::path> MeteorParaphraseTable::default_index_directory() {
  if (const char* xdg_cache = std::getenv("XDG_CACHE_HOME"); xdg_cache != nullptr && *xdg_cache != '\0') {
    return std::filesystem::path(xdg_cache) / "sparsecap" / "meteor";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "sparsecap" / "meteor";
  }
  return std::nullopt;
}

MeteorParaphraseTable MeteorParaphraseTable::load(const std::filesystem::path& path,
                                                  const std::optional<std::filesystem::path>& index_directory) {
  std::error_code error;
  if (!index_directory || !std::filesystem::is_regular_file(path, error)) return parse_file(path);
  const IndexFile::Header header = IndexFile::header_for(path);
  const std::filesystem::path index = IndexFile::path_for(path, *index_directory);
  if (std::optional<MeteorParaphraseTable> mapped = IndexFile::map(index, header)) return std::move(*mapped);
  MeteorParaphraseTable table = parse_file(path);
  IndexFile::write(table, header, index);
  return table;
}

MeteorParaphraseTable MeteorParaphraseTable::from_text(std::string_view text, const std::string& source_name) {
  Builder builder(source_name);
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    builder.add_line(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
  }
  return builder.finish();
}

MeteorParaphraseTable::PhraseId MeteorParaphraseTable::find(std::string_view phrase) const {
  if (slots_.empty()) return kNotAPhrase;
  const std::uint32_t hash = hash_phrase(phrase);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = hash & mask;; slot = (slot + 1) & mask) {
    const std::uint64_t entry = slots_[slot];
    if (entry == 0) return kNotAPhrase;
    const auto id = static_cast<PhraseId>((entry & 0xFFFFFFFFu) - 1);
    if ((entry >> 32) == hash && phrase_text(id) == phrase) return id;
  }
}

bool MeteorParaphraseTable::lists(PhraseId phrase, PhraseId paraphrase) const {
  const std::span<const PhraseId> row = paraphrases_of(phrase);
  return std::binary_search(row.begin(), row.end(), paraphrase);
}

std::span<const MeteorParaphraseTable::PhraseId> MeteorParaphraseTable::paraphrases_of(PhraseId phrase) const {
  if (phrase + 1 >= paraphrase_starts_.size()) return {};
  return paraphrases_.subspan(paraphrase_starts_[phrase], paraphrase_starts_[phrase + 1] - paraphrase_starts_[phrase]);
}

std::string_view MeteorParaphraseTable::phrase_text(PhraseId phrase) const {
  return phrase_bytes_.substr(phrase_starts_[phrase], phrase_starts_[phrase + 1] - phrase_starts_[phrase]);
}

std::size_t MeteorParaphraseTable::memory_bytes() const {
  return phrase_bytes_.size() + sizeof(std::uint64_t) * slots_.size() +
         sizeof(std::uint32_t) * (phrase_starts_.size() + paraphrase_starts_.size() + paraphrases_.size());
}

}  // namespace sparsecap::eval
