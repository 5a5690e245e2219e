#include "eval/score.h"

#include <future>
#include <stdexcept>

#include "eval/rouge.h"
#include "eval/tokenize.h"

namespace sparsecap::eval {
namespace {

std::string list_some(const std::vector<std::string>& ids) {
  constexpr std::size_t kShown = 10;
  std::string listed;
  for (std::size_t i = 0; i < ids.size() && i < kShown; ++i) {
    if (i > 0) listed += ", ";
    listed += ids[i];
  }
  if (ids.size() > kShown) listed += ", ... (" + std::to_string(ids.size()) + " in all)";
  return listed;
}

void require_matching_ids(const ReferenceCaptions& references, const CandidateCaptions& candidates) {
  std::vector<std::string> without_candidate;
  for (const auto& [id, captions] : references) {
    if (!candidates.contains(id)) without_candidate.push_back(id);
  }
  std::vector<std::string> without_references;
  for (const auto& [id, caption] : candidates) {
    if (!references.contains(id)) without_references.push_back(id);
  }
  if (!without_candidate.empty()) {
    throw std::runtime_error(std::to_string(without_candidate.size()) +
                             " image(s) have references but no candidate caption: " + list_some(without_candidate));
  }
  if (!without_references.empty()) {
    throw std::runtime_error(std::to_string(without_references.size()) +
                             " candidate caption(s) have no references: " + list_some(without_references));
  }
}

Tokens tokenize_named(const std::string& caption, const std::string& id, const char* role) {
  try {
    return tokenize_caption(caption);
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(std::string(role) + " of image " + id + ": " + error.what());
  }
}

}  // namespace

const MetricScores& CaptionScores::metric(const std::string& name) const {
  auto found = metrics.find(name);
  if (found == metrics.end()) {
    std::string message = "metric " + name + " was not computed";
    if (name == "METEOR" && meteor_name == "METEOR_no_paraphrase") {
      message += " (METEOR ran without a paraphrase table, as METEOR_no_paraphrase)";
    }
    throw std::out_of_range(message);
  }
  return found->second;
}

const MetricScores& CaptionScores::meteor() const {
  if (meteor_name.empty()) throw std::out_of_range("metric METEOR was not computed");
  return metric(meteor_name);
}

TokenizedCaptionSet tokenize_caption_set(const ReferenceCaptions& references, const CandidateCaptions& candidates) {
  require_matching_ids(references, candidates);
  TokenizedCaptionSet set;
  set.image_ids.reserve(candidates.size());
  for (const auto& [id, candidate] : candidates) {
    const std::vector<std::string>& raw_references = references.at(id);
    if (raw_references.empty()) throw std::runtime_error("image " + id + " has no reference captions");
    std::vector<Tokens> tokenized_references;
    tokenized_references.reserve(raw_references.size());
    for (const std::string& reference : raw_references) {
      tokenized_references.push_back(tokenize_named(reference, id, "reference"));
    }
    set.image_ids.push_back(id);
    set.references.push_back(std::move(tokenized_references));
    set.candidates.push_back(tokenize_named(candidate, id, "candidate"));
  }
  return set;
}

CaptionScores score_captions(const ReferenceCaptions& references, const CandidateCaptions& candidates,
                             const ScoreOptions& options) {
  return score_tokenized_captions(tokenize_caption_set(references, candidates), options);
}

CaptionScores score_tokenized_captions(const TokenizedCaptionSet& set, const ScoreOptions& options) {
  CaptionScores scores;
  scores.image_ids = set.image_ids;
  // METEOR's resources (WordNet, the paraphrase table) load on a second thread while the other
  // metrics run; METEOR itself runs last. Loaded once per process (MeteorResources::shared).
  std::future<std::shared_ptr<const MeteorResources>> meteor_resources;
  if (options.meteor) {
    if (options.meteor_resources) {
      std::promise<std::shared_ptr<const MeteorResources>> ready;
      ready.set_value(options.meteor_resources);
      meteor_resources = ready.get_future();
    } else {
      meteor_resources = std::async(std::launch::async, [&options] {
        return MeteorResources::shared(options.wordnet_dir, options.meteor_paraphrase_table);
      });
    }
  }
  Vocabulary vocabulary;
  const EncodedCaptionSet encoded = encode_caption_set(set, vocabulary);
  if (options.bleu) {
    BleuScores bleu = compute_bleu(encoded);
    for (int k = 0; k < kMaxNGramOrder; ++k) {
      scores.metrics["BLEU_" + std::to_string(k + 1)] = {bleu.corpus[k], std::move(bleu.per_image[k])};
    }
    scores.bleu_statistics = bleu.totals;
  }
  if (options.rouge_l) {
    RougeScores rouge = compute_rouge_l(encoded);
    scores.metrics["ROUGE_L"] = {rouge.corpus, std::move(rouge.per_image)};
  }
  if (options.cider_d) {
    CiderScores cider = options.cider_document_frequency
                            ? compute_cider_d(encoded, *options.cider_document_frequency, vocabulary)
                            : compute_cider_d(encoded);
    scores.metrics["CIDEr_D"] = {cider.corpus, std::move(cider.per_image)};
  }
  if (options.meteor) {
    MeteorScores meteor = compute_meteor(set, *meteor_resources.get());
    scores.metrics[meteor.name] = {meteor.corpus, std::move(meteor.per_image)};
    scores.meteor_name = meteor.name;
    scores.meteor_modules = meteor.modules;
  }
  return scores;
}

nlohmann::json caption_scores_to_json(const CaptionScores& scores) {
  nlohmann::json json;
  json["image_ids"] = scores.image_ids;
  json["corpus"] = nlohmann::json::object();
  json["per_image"] = nlohmann::json::object();
  for (const auto& [name, metric] : scores.metrics) {
    json["corpus"][name] = metric.corpus;
    json["per_image"][name] = metric.per_image;
  }
  if (scores.metrics.contains("BLEU_1")) {
    const BleuStatistics& stats = scores.bleu_statistics;
    json["bleu_stats"] = {{"testlen", stats.test_length},
                          {"reflen", stats.reference_length},
                          {"guess", stats.guess},
                          {"correct", stats.correct}};
  }
  if (!scores.meteor_name.empty()) {
    json["meteor_name"] = scores.meteor_name;
    json["meteor_modules"] = scores.meteor_modules;
  }
  return json;
}

}  // namespace sparsecap::eval
