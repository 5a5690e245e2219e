#include "eval/ngram.h"

#include <algorithm>

namespace sparsecap::eval {

std::size_t NGramHash::operator()(const NGram& ngram) const noexcept {
  // 64-bit FNV-1a over the word ids and the order.
  std::uint64_t hash = 1469598103934665603ULL;
  auto mix = [&](std::uint64_t value) {
    hash ^= value;
    hash *= 1099511628211ULL;
  };
  for (WordId word : ngram.words) mix(word);
  mix(ngram.order);
  return static_cast<std::size_t>(hash);
}

NGramCounts count_ngrams(const EncodedCaption& caption, int max_order) {
  std::vector<NGram> all;
  const int length = static_cast<int>(caption.size());
  all.reserve(static_cast<std::size_t>(length * max_order));
  for (int order = 1; order <= max_order; ++order) {
    for (int start = 0; start + order <= length; ++start) {
      NGram ngram;
      ngram.order = static_cast<std::uint8_t>(order);
      for (int k = 0; k < order; ++k) ngram.words[k] = caption[start + k];
      all.push_back(ngram);
    }
  }
  std::sort(all.begin(), all.end());
  NGramCounts counts;
  for (const NGram& ngram : all) {
    if (!counts.empty() && counts.back().ngram == ngram) {
      ++counts.back().count;
    } else {
      counts.push_back({ngram, 1});
    }
  }
  return counts;
}

}  // namespace sparsecap::eval
