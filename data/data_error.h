#pragma once
// The one exception type of the data library. Every problem with input on disk (a missing image, a
// corrupt JSON, a truncated .npy, a NaN feature) is reported as "<file>: <what is wrong>", so a user
// with ten thousand files knows which one to look at. It is a std::runtime_error, so callers that do
// not care about the data library catch it like any other error.
#include <stdexcept>
#include <string>
#include <utility>

namespace sparsecap::data {

class DataError : public std::runtime_error {
 public:
  DataError(std::string file, const std::string& problem)
      : std::runtime_error(file + ": " + problem), file_(std::move(file)), problem_(problem) {}

  const std::string& file() const { return file_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string file_;
  std::string problem_;
};

}  // namespace sparsecap::data
