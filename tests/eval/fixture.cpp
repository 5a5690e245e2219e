#include "tests/eval/fixture.h"

#include <cmath>
#include <fstream>
#include <sstream>

namespace sparsecap::eval::testing {
namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture file " + path.string());
  return nlohmann::json::parse(in);
}

Tokens split_on_whitespace(const std::string& text) {
  Tokens tokens;
  std::istringstream stream(text);
  std::string token;
  while (stream >> token) tokens.push_back(token);
  return tokens;
}

}  // namespace

std::filesystem::path metrics_fixture_dir(const std::string& name) {
  return std::filesystem::path(SPARSECAP_FIXTURES_DIR) / "metrics" / name;
}

MetricsFixture load_metrics_fixture(const std::string& name) {
  const std::filesystem::path dir = metrics_fixture_dir(name);
  MetricsFixture fixture;
  const nlohmann::json input = read_json(dir / "input.json");
  const nlohmann::json tokenized = read_json(dir / "tokenized.json");
  fixture.scores = read_json(dir / "scores.json");
  fixture.raw_references = input.at("refs").get<ReferenceCaptions>();
  fixture.raw_candidates = input.at("cands").get<CandidateCaptions>();
  for (const std::string& id : fixture.scores.at("ids").get<std::vector<std::string>>()) {
    std::vector<Tokens> references;
    for (const std::string& reference : tokenized.at("refs").at(id).get<std::vector<std::string>>()) {
      references.push_back(split_on_whitespace(reference));
    }
    fixture.tokenized.image_ids.push_back(id);
    fixture.tokenized.references.push_back(std::move(references));
    fixture.tokenized.candidates.push_back(split_on_whitespace(tokenized.at("cands").at(id).get<std::string>()));
  }
  return fixture;
}

::testing::AssertionResult relatively_near(double actual, double expected, double relative) {
  const double tolerance = std::max(relative * std::fabs(expected), 1e-15);
  if (std::fabs(actual - expected) <= tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "actual " << actual << " expected " << expected << " (relative error "
                                       << std::fabs(actual - expected) / std::max(std::fabs(expected), 1e-300) << ")";
}

}  // namespace sparsecap::eval::testing
