#pragma once
// ROUGE-L as the MS-COCO toolkit computes it (pycocoevalcap rouge.py): word-level longest common
// subsequence with each reference; precision and recall are each maximised over the references
// separately, then F = (1 + b^2) P R / (R + b^2 P) with b = 1.2; the corpus value is the mean.
#include <vector>

#include "eval/vocabulary.h"

namespace sparsecap::eval {

inline constexpr double kRougeBeta = 1.2;

std::size_t longest_common_subsequence(const EncodedCaption& a, const EncodedCaption& b);

double rouge_l(const EncodedCaption& candidate, const std::vector<EncodedCaption>& references);

struct RougeScores {
  double corpus = 0.0;
  std::vector<double> per_image;
};

RougeScores compute_rouge_l(const EncodedCaptionSet& set);

}  // namespace sparsecap::eval
