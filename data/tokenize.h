#pragma once
// Caption pre-processing as Karpathy's prepro and the COCO caption tools do it: lower-case ASCII,
// delete punctuation characters (so "don't" becomes "dont" and "t-shirt" becomes "tshirt"), split
// on whitespace. The same function is used for training captions, the vocabulary and evaluation,
// so a word is spelled the same everywhere.
#include <string>
#include <string_view>
#include <vector>

namespace sparsecap::data {

std::vector<std::string> tokenize_caption(std::string_view raw_caption);

// Tokens joined by single spaces: the form captions are compared in during evaluation.
std::string join_tokens(const std::vector<std::string>& tokens);

}  // namespace sparsecap::data
