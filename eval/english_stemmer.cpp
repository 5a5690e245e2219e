#include "eval/english_stemmer.h"

#include <libstemmer.h>

#include <memory>
#include <stdexcept>

namespace sparsecap::eval {
namespace {

struct StemmerDeleter {
  void operator()(sb_stemmer* stemmer) const { sb_stemmer_delete(stemmer); }
};

sb_stemmer& thread_stemmer() {
  thread_local std::unique_ptr<sb_stemmer, StemmerDeleter> stemmer(sb_stemmer_new("english", "UTF_8"));
  if (!stemmer) throw std::runtime_error("libstemmer has no English UTF-8 stemmer (or is out of memory)");
  return *stemmer;
}

}  // namespace

std::string english_stem(std::string_view word) {
  sb_stemmer& stemmer = thread_stemmer();
  const sb_symbol* stem =
      sb_stemmer_stem(&stemmer, reinterpret_cast<const sb_symbol*>(word.data()), static_cast<int>(word.size()));
  if (stem == nullptr) throw std::runtime_error("libstemmer ran out of memory stemming \"" + std::string(word) + "\"");
  return std::string(reinterpret_cast<const char*>(stem), static_cast<std::size_t>(sb_stemmer_length(&stemmer)));
}

}  // namespace sparsecap::eval
