#include "eval/meteor_function_words.h"

namespace sparsecap::eval {

const std::unordered_set<std::string>& english_function_words() {
  static const std::unordered_set<std::string> words{
      // Ordered roughly by newswire frequency; all above about 1e-3 relative frequency.
      "the", "of", "to", "a", "and", "in", "for", "that", "is", "on", "it", "with", "said", "was", "he", "as",
      "at", "by", "from", "his", "be", "have", "has", "but", "are", "an", "not", "i", "they", "who", "will",
      "were", "had", "this", "its", "would", "been", "which", "their", "or", "more", "we", "you", "about", "up",
      "after", "one", "new", "she", "there", "also", "out", "year", "two", "if", "all", "her", "than", "when",
      "can", "into", "could", "last", "so", "people", "what", "no", "first", "over", "him", "some", "our",
      "years", "other", "them", "time", "only", "percent", "just", "do", "now", "told", "like", "because",
      "state", "made", "before", "my", "president", "says", "any", "most", "back", "government", "million",
      "may", "while", "where", "how", "then", "these", "me", "us", "through", "down", "off", "between",
      "against", "during", "even", "still", "many", "such", "being", "did", "those", "am"};
  return words;
}

}  // namespace sparsecap::eval
