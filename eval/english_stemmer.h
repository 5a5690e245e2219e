#pragma once
// The Snowball English stemmer ("Porter2"), the stemmer METEOR 1.5 uses for its stem module, from
// Snowball's own C library (Debian libstemmer-dev). Input is one lower-case UTF-8 word.
#include <string>
#include <string_view>

namespace sparsecap::eval {

// Thread-safe: each thread keeps its own stemmer (a Snowball stemmer is not reentrant).
std::string english_stem(std::string_view word);

}  // namespace sparsecap::eval
