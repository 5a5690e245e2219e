#include "eval/meteor_function_words.h"

namespace sparsecap::eval {

const std::unordered_set<std::string>& english_function_words() {
  // METEOR 1.5's English function-word list (the published resource the Java tool ships as
  // function/english.words), in its order: the most frequent tokens of its newswire training
  // data, punctuation and PTB tokens ("-lrb-", "'s", "'t") included, because METEOR counts every
  // token of a -norm sentence, punctuation too, as a function or a content word.
  static const std::unordered_set<std::string> words{
      "the", ",", ".", "to", "of", "and", "a", "in", "that", "for", "\"", "is", "on", "'s", "it", "with",
      "was", "as", "said", "at", "he", "by", "be", "from", "have", "has", "are", "his", "but", "an", "this",
      "not", "i", "will", "’", "they", ")", "-rrb-", "(", "-lrb-", "who", "their", "had", "we", "which",
      "were", "been", "more", "or", "s", "its", "would", "about", "new", "one", "after", "you", ":", "also",
      "up", "when", "there", "than", "$", "all", "out", "her", "people", "she", "year", "two", "-", "can",
      "if", "last", "first", "“", "over", "other", "”", "into", "some", "what", "so", "--", "no", "time",
      "years", "could", "?", "'t", "—", "'"};
  return words;
}

}  // namespace sparsecap::eval
