#pragma once
// Caption tokenisation as the MS-COCO caption evaluation toolkit leaves captions: the Stanford PTB
// tokenizer (CoreNLP 3.4.1, options -preserveLines -lowerCase) followed by the toolkit's removal
// of punctuation tokens. Every metric in eval/ consumes these tokens.
#include <string>
#include <string_view>
#include <vector>

namespace sparsecap::eval {

using Tokens = std::vector<std::string>;

// The tokens the toolkit deletes after PTB tokenisation (pycocoevalcap tokenizer/ptbtokenizer.py,
// PUNCTUATIONS). The removal runs after lower-casing, so "-LRB-" and friends never match and
// "-lrb-"/"-rrb-" survive; we reproduce that on purpose because the reference scores depend on it.
const std::vector<std::string_view>& toolkit_removed_tokens();

// PTB tokens of one caption before lower-casing and punctuation removal ("(" -> "-LRB-",
// "doesn't" -> "does" "n't", "\"x\"" -> "``" "x" "''", "!!" stays one token, ...).
// Throws std::runtime_error if the caption is not valid UTF-8.
Tokens ptb_tokenize(std::string_view caption);

// The toolkit's full step: PTB tokens, lower-cased, minus toolkit_removed_tokens().
Tokens tokenize_caption(std::string_view caption);

// Tokens joined by single spaces, the form the toolkit hands to its scorers.
std::string join_tokens(const Tokens& tokens);

}  // namespace sparsecap::eval
