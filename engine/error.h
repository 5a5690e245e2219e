#pragma once
// Errors are exceptions carrying the offending values; the CLI turns them into one clear line.
#include <sstream>
#include <stdexcept>
#include <string>

namespace sparsecap {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace sparsecap

// SPARSECAP_CHECK(cond, parts...) throws sparsecap::Error with the concatenated parts.
#define SPARSECAP_CHECK(cond, ...)                                            \
  do {                                                                        \
    if (!(cond)) throw ::sparsecap::Error(::sparsecap::detail::concat(__VA_ARGS__)); \
  } while (0)
