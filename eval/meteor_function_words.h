#pragma once
// English function words for METEOR's content/function weighting (delta).
#include <string>
#include <unordered_set>

namespace sparsecap::eval {

// METEOR 1.5 ships a list of the words with relative frequency above 1e-3 in a large English
// corpus (resource function/english.words in its jar). That file is not available here, so this
// is our reconstruction: the closed-class words and most frequent English words of that
// frequency band. Punctuation and PTB clitics ("'s", "n't") are left out: the Java tool's scores
// on the fixtures only fit if they count as content words (its list was evidently counted on
// untokenised text). docs/metrics.md reports how close METEOR gets with it.
const std::unordered_set<std::string>& english_function_words();

}  // namespace sparsecap::eval
