#pragma once
// Statistics of generated captions that papers report next to the metrics: how many, how many
// distinct, how many never seen in training, how long, and how much of the vocabulary they use.
#include <cstddef>
#include <vector>

#include "eval/tokenize.h"

namespace sparsecap::eval {

struct CaptionStatistics {
  std::size_t caption_count = 0;
  double percent_unique = 0.0;  // distinct captions / captions * 100
  double percent_novel = 0.0;   // captions absent from the training captions * 100
  double average_length = 0.0;  // words per caption
  std::size_t distinct_words = 0;
  std::size_t vocabulary_size = 0;   // as given; 0 when unknown
  double vocabulary_fraction = 0.0;  // distinct_words / vocabulary_size, 0 when unknown
};

// Captions are compared as token sequences (tokenise both sides the same way first).
CaptionStatistics caption_statistics(const std::vector<Tokens>& captions, const std::vector<Tokens>& training_captions,
                                     std::size_t vocabulary_size);

}  // namespace sparsecap::eval
