#pragma once
// N-grams (orders 1..4) of encoded captions, counted into sorted vectors so that clipping and
// dot products are linear merges instead of hash lookups.
#include <array>
#include <compare>
#include <cstdint>
#include <utility>
#include <vector>

#include "eval/vocabulary.h"

namespace sparsecap::eval {

inline constexpr int kMaxNGramOrder = 4;

struct NGram {
  std::array<WordId, kMaxNGramOrder> words{};  // unused slots stay 0
  std::uint8_t order = 0;
  auto operator<=>(const NGram&) const = default;
};

struct NGramHash {
  std::size_t operator()(const NGram& ngram) const noexcept;
};

struct NGramCount {
  NGram ngram;
  int count = 0;
};

// Sorted by ngram, each n-gram once, orders 1..max_order.
using NGramCounts = std::vector<NGramCount>;

NGramCounts count_ngrams(const EncodedCaption& caption, int max_order = kMaxNGramOrder);

}  // namespace sparsecap::eval
