#pragma once
// Loads ../shared/fixtures/metrics/<name>: raw captions, the toolkit's tokenisation and the
// toolkit's scores, with images in the order of scores.json "ids".
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "eval/score.h"

namespace sparsecap::eval::testing {

struct MetricsFixture {
  ReferenceCaptions raw_references;
  CandidateCaptions raw_candidates;
  TokenizedCaptionSet tokenized;  // from tokenized.json, ordered like scores["ids"]
  nlohmann::json scores;
};

std::filesystem::path metrics_fixture_dir(const std::string& name);
MetricsFixture load_metrics_fixture(const std::string& name);

// |actual - expected| <= relative * |expected|, with an absolute floor for expected zeros.
::testing::AssertionResult relatively_near(double actual, double expected, double relative);

}  // namespace sparsecap::eval::testing
