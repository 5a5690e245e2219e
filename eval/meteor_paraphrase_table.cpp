#include "eval/meteor_paraphrase_table.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>

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

// Turns the lines of a table into the compact index, one line at a time.
class MeteorParaphraseTable::Builder {
 public:
  explicit Builder(std::string source_name) : source_name_(std::move(source_name)) {
    table_.slots_.assign(std::size_t{1} << 16, 0);
    table_.phrase_starts_.push_back(0);
  }

  void add_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    switch (line_number_ % 3) {
      case 0:
        if (!looks_like_probability(line)) fail("expected a probability", line);
        break;
      case 1:
        // Lines are grouped by their first phrase: most of them repeat the previous one.
        if (current_phrase_ == kNotAPhrase || line != table_.phrase_text(current_phrase_)) {
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
    return std::move(table_);
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

  PhraseId intern(std::string_view phrase) {
    if (phrase.empty() || phrase.front() == ' ' || phrase.back() == ' ') fail("expected a phrase", phrase);
    const std::uint32_t hash = hash_phrase(phrase);
    const std::size_t mask = table_.slots_.size() - 1;
    std::size_t slot = hash & mask;
    for (; table_.slots_[slot] != 0; slot = (slot + 1) & mask) {
      const std::uint64_t entry = table_.slots_[slot];
      const auto id = static_cast<PhraseId>((entry & 0xFFFFFFFFu) - 1);
      if ((entry >> 32) == hash && table_.phrase_text(id) == phrase) return id;
    }
    const auto id = static_cast<PhraseId>(table_.phrase_count());
    table_.phrase_bytes_.append(phrase);
    if (table_.phrase_bytes_.size() > 0xFFFFFFF0u) fail("phrases exceed 4 GiB", {});
    table_.phrase_starts_.push_back(static_cast<std::uint32_t>(table_.phrase_bytes_.size()));
    table_.longest_phrase_words_ = std::max(table_.longest_phrase_words_, word_count(phrase));
    table_.slots_[slot] = slot_entry(hash, id);
    if (2 * table_.phrase_count() > table_.slots_.size()) grow_slots();
    return id;
  }

  static std::uint64_t slot_entry(std::uint32_t hash, PhraseId id) {
    return (std::uint64_t{hash} << 32) | (std::uint64_t{id} + 1);
  }

  // Doubles the slots, keeping the load factor at or below one half.
  void grow_slots() {
    std::vector<std::uint64_t> old = std::move(table_.slots_);
    table_.slots_.assign(old.size() * 2, 0);
    const std::size_t mask = table_.slots_.size() - 1;
    for (std::uint64_t entry : old) {
      if (entry == 0) continue;
      std::size_t slot = (entry >> 32) & mask;
      while (table_.slots_[slot] != 0) slot = (slot + 1) & mask;
      table_.slots_[slot] = entry;
    }
  }

  // Counting sort of the pairs by first phrase into compressed rows.
  void build_rows() {
    const std::size_t phrases = table_.phrase_count();
    std::vector<std::uint32_t>& starts = table_.paraphrase_starts_;
    starts.assign(phrases + 1, 0);
    for (const Pair& pair : pairs_) ++starts[pair.phrase + 1];
    for (std::size_t i = 0; i < phrases; ++i) starts[i + 1] += starts[i];
    table_.paraphrases_.resize(pairs_.size());
    std::vector<std::uint32_t> next(starts.begin(), starts.end() - 1);
    for (const Pair& pair : pairs_) table_.paraphrases_[next[pair.phrase]++] = pair.paraphrase;
    for (std::size_t i = 0; i < phrases; ++i) {
      std::sort(table_.paraphrases_.begin() + starts[i], table_.paraphrases_.begin() + starts[i + 1]);
    }
    pairs_.clear();
    pairs_.shrink_to_fit();
    table_.phrase_bytes_.shrink_to_fit();
  }

  std::string source_name_;
  MeteorParaphraseTable table_;
  std::vector<Pair> pairs_;
  std::size_t line_number_ = 0;
  PhraseId current_phrase_ = kNotAPhrase;
};

MeteorParaphraseTable MeteorParaphraseTable::load(const std::filesystem::path& path) {
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
  return std::span<const PhraseId>(paraphrases_).subspan(paraphrase_starts_[phrase],
                                                         paraphrase_starts_[phrase + 1] - paraphrase_starts_[phrase]);
}

std::string_view MeteorParaphraseTable::phrase_text(PhraseId phrase) const {
  return std::string_view(phrase_bytes_).substr(phrase_starts_[phrase], phrase_starts_[phrase + 1] - phrase_starts_[phrase]);
}

std::size_t MeteorParaphraseTable::memory_bytes() const {
  return phrase_bytes_.capacity() + sizeof(std::uint64_t) * slots_.capacity() +
         sizeof(std::uint32_t) * (phrase_starts_.capacity() + paraphrase_starts_.capacity() + paraphrases_.capacity());
}

}  // namespace sparsecap::eval
