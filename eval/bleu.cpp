#include "eval/bleu.h"

#include <cmath>
#include <cstdlib>

namespace sparsecap::eval {
namespace {

// The toolkit's smoothing constants: keep a zero count at zero and avoid division by zero.
constexpr double kTiny = 1e-15;
constexpr double kSmall = 1e-9;

// For each n-gram, the largest count it has in any one reference.
NGramCounts max_reference_counts(const std::vector<EncodedCaption>& references) {
  NGramCounts merged;
  for (const EncodedCaption& reference : references) {
    NGramCounts counts = count_ngrams(reference);
    NGramCounts next;
    next.reserve(merged.size() + counts.size());
    std::size_t a = 0;
    std::size_t b = 0;
    while (a < merged.size() || b < counts.size()) {
      if (b == counts.size() || (a < merged.size() && merged[a].ngram < counts[b].ngram)) {
        next.push_back(merged[a++]);
      } else if (a == merged.size() || counts[b].ngram < merged[a].ngram) {
        next.push_back(counts[b++]);
      } else {
        next.push_back({merged[a].ngram, std::max(merged[a].count, counts[b].count)});
        ++a;
        ++b;
      }
    }
    merged = std::move(next);
  }
  return merged;
}

long closest_reference_length(long test_length, const std::vector<EncodedCaption>& references) {
  long best = -1;
  for (const EncodedCaption& reference : references) {
    const long length = static_cast<long>(reference.size());
    const long distance = std::labs(length - test_length);
    const long best_distance = std::labs(best - test_length);
    if (best < 0 || distance < best_distance || (distance == best_distance && length < best)) best = length;
  }
  return best;
}

}  // namespace

BleuStatistics& BleuStatistics::operator+=(const BleuStatistics& other) {
  test_length += other.test_length;
  reference_length += other.reference_length;
  for (int k = 0; k < kMaxNGramOrder; ++k) {
    guess[k] += other.guess[k];
    correct[k] += other.correct[k];
  }
  return *this;
}

std::array<double, kMaxNGramOrder> bleu_from_statistics(const BleuStatistics& stats) {
  std::array<double, kMaxNGramOrder> scores{};
  double product = 1.0;
  for (int k = 0; k < kMaxNGramOrder; ++k) {
    product *= (static_cast<double>(stats.correct[k]) + kTiny) / (static_cast<double>(stats.guess[k]) + kSmall);
    scores[k] = std::pow(product, 1.0 / (k + 1));
  }
  const double ratio =
      (static_cast<double>(stats.test_length) + kTiny) / (static_cast<double>(stats.reference_length) + kSmall);
  if (ratio < 1.0) {
    const double brevity_penalty = std::exp(1.0 - 1.0 / ratio);
    for (double& score : scores) score *= brevity_penalty;
  }
  return scores;
}

BleuStatistics bleu_statistics(const EncodedCaption& candidate, const std::vector<EncodedCaption>& references) {
  BleuStatistics stats;
  stats.test_length = static_cast<long>(candidate.size());
  stats.reference_length = closest_reference_length(stats.test_length, references);
  for (int k = 0; k < kMaxNGramOrder; ++k) stats.guess[k] = std::max(0L, stats.test_length - k);

  const NGramCounts reference_max = max_reference_counts(references);
  const NGramCounts candidate_counts = count_ngrams(candidate);
  std::size_t r = 0;
  for (const NGramCount& entry : candidate_counts) {
    while (r < reference_max.size() && reference_max[r].ngram < entry.ngram) ++r;
    if (r < reference_max.size() && reference_max[r].ngram == entry.ngram) {
      stats.correct[entry.ngram.order - 1] += std::min(entry.count, reference_max[r].count);
    }
  }
  return stats;
}

BleuScores compute_bleu(const EncodedCaptionSet& set) {
  BleuScores scores;
  for (auto& per_order : scores.per_image) per_order.reserve(set.candidates.size());
  for (std::size_t i = 0; i < set.candidates.size(); ++i) {
    const BleuStatistics stats = bleu_statistics(set.candidates[i], set.references[i]);
    const auto image_scores = bleu_from_statistics(stats);
    for (int k = 0; k < kMaxNGramOrder; ++k) scores.per_image[k].push_back(image_scores[k]);
    scores.totals += stats;
  }
  scores.corpus = bleu_from_statistics(scores.totals);
  return scores;
}

}  // namespace sparsecap::eval
