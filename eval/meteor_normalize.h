#pragma once
// METEOR 1.5's "-norm" re-tokenisation of an English sentence, as observed on the Java tool.
#include "eval/tokenize.h"

namespace sparsecap::eval {

// Applied to the toolkit's (already lower-cased) tokens, in this order:
//  - curly quotes become ASCII (’ ‘ -> ', “ ” -> ") and '' becomes ";
//  - the mteval-v13a splits: symbols such as ! ? ; : ( ) & / " become single-character tokens
//    ("!!" -> "!" "!"), periods and commas are split off unless between digits, a dash after a
//    digit is split off (' and - themselves are not symbols);
//  - English apostrophes, each rule a left-to-right pass in which a matched character is not
//    reused: non-letter'non-letter -> split both sides; non-alphanumeric'letter -> split both
//    ("'s" -> "' s"); letter'non-letter -> split both ("dogs'" -> "dogs '"); letter'letter ->
//    split before ("n't" -> "n 't", "o'clock" -> "o 'clock"); digit's -> "1990 's".
Tokens meteor_normalize(const Tokens& tokens);

}  // namespace sparsecap::eval
