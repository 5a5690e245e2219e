#pragma once
// English function words for METEOR's content/function weighting (delta).
#include <string>
#include <unordered_set>

namespace sparsecap::eval {

// METEOR 1.5's list for English: the 93 most frequent tokens of its newswire data (a published
// resource of the tool, not code). A word is a function word when it is in this list verbatim.
const std::unordered_set<std::string>& english_function_words();

}  // namespace sparsecap::eval
