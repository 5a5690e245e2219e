#pragma once
// BLEU-1..4 exactly as the MS-COCO toolkit computes it (pycocoevalcap bleu_scorer.py, option
// "closest"): clipped n-gram counts, the reference length closest to the candidate length (ties:
// the shorter), corpus score from counts summed over images, precision (correct + 1e-15) /
// (guess + 1e-9), brevity penalty exp(1 - 1/r) with r = (testlen + 1e-15) / (reflen + 1e-9) when
// r < 1. Per-image scores use the same formula on one image's counts.
#include <array>
#include <vector>

#include "eval/ngram.h"
#include "eval/vocabulary.h"

namespace sparsecap::eval {

// Sufficient statistics; they add over images.
struct BleuStatistics {
  long test_length = 0;       // candidate words
  long reference_length = 0;  // closest reference length
  std::array<long, kMaxNGramOrder> guess{};    // candidate n-grams of each order
  std::array<long, kMaxNGramOrder> correct{};  // clipped matches of each order

  BleuStatistics& operator+=(const BleuStatistics& other);
};

// BLEU-1..4 of one statistics record.
std::array<double, kMaxNGramOrder> bleu_from_statistics(const BleuStatistics& stats);

BleuStatistics bleu_statistics(const EncodedCaption& candidate, const std::vector<EncodedCaption>& references);

struct BleuScores {
  std::array<double, kMaxNGramOrder> corpus{};                   // BLEU_1..BLEU_4
  std::array<std::vector<double>, kMaxNGramOrder> per_image;     // per_image[n-1][image]
  BleuStatistics totals;
};

BleuScores compute_bleu(const EncodedCaptionSet& set);

}  // namespace sparsecap::eval
