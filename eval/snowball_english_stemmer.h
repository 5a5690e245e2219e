#pragma once
// The Snowball English stemmer ("Porter2"), the stemmer METEOR 1.5 uses for its stem module
// (org.tartarus.snowball.ext.englishStemmer), written from the published algorithm description
// at snowballstem.org. Input is one lower-case word; non-ASCII bytes count as consonants.
#include <string>
#include <string_view>

namespace sparsecap::eval {

std::string snowball_english_stem(std::string_view word);

}  // namespace sparsecap::eval
