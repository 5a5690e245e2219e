#include "eval/rouge.h"

#include <algorithm>

namespace sparsecap::eval {

std::size_t longest_common_subsequence(const EncodedCaption& a, const EncodedCaption& b) {
  // One rolling row of the classic DP table.
  std::vector<std::size_t> row(b.size() + 1, 0);
  for (WordId word : a) {
    std::size_t diagonal = 0;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = (word == b[j - 1]) ? diagonal + 1 : std::max(row[j], row[j - 1]);
      diagonal = above;
    }
  }
  return row[b.size()];
}

double rouge_l(const EncodedCaption& candidate, const std::vector<EncodedCaption>& references) {
  // The toolkit splits the empty candidate into one empty token, so its precision is 0 and the
  // score is 0; we reach the same result without the fake token.
  if (candidate.empty()) return 0.0;
  double best_precision = 0.0;
  double best_recall = 0.0;
  for (const EncodedCaption& reference : references) {
    if (reference.empty()) continue;
    const auto lcs = static_cast<double>(longest_common_subsequence(reference, candidate));
    best_precision = std::max(best_precision, lcs / static_cast<double>(candidate.size()));
    best_recall = std::max(best_recall, lcs / static_cast<double>(reference.size()));
  }
  if (best_precision == 0.0 || best_recall == 0.0) return 0.0;
  const double beta_squared = kRougeBeta * kRougeBeta;
  return ((1 + beta_squared) * best_precision * best_recall) / (best_recall + beta_squared * best_precision);
}

RougeScores compute_rouge_l(const EncodedCaptionSet& set) {
  RougeScores scores;
  scores.per_image.reserve(set.candidates.size());
  double sum = 0.0;
  for (std::size_t i = 0; i < set.candidates.size(); ++i) {
    scores.per_image.push_back(rouge_l(set.candidates[i], set.references[i]));
    sum += scores.per_image.back();
  }
  scores.corpus = set.candidates.empty() ? 0.0 : sum / static_cast<double>(set.candidates.size());
  return scores;
}

}  // namespace sparsecap::eval
