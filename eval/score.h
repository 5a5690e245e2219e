#pragma once
// In-process scoring: the trainer's validation pass and the self-critical reward call this.
//
//   ScoreOptions options;                 // all metrics, WordNet from /usr/share/wordnet
//   CaptionScores s = score_captions(references, candidates, options);
//   s.metric("CIDEr_D").corpus;  s.metric("BLEU_4").per_image[i];  // image s.image_ids[i]
//
// For a reward, switch off METEOR and ROUGE-L and pass the training-set document frequencies;
// with pre-tokenised captions use score_tokenized_captions and skip tokenisation entirely.
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/bleu.h"
#include "eval/cider.h"
#include "eval/meteor.h"
#include "eval/vocabulary.h"

namespace sparsecap::eval {

using ReferenceCaptions = std::map<std::string, std::vector<std::string>>;  // image id -> captions
using CandidateCaptions = std::map<std::string, std::string>;               // image id -> caption

struct ScoreOptions {
  bool bleu = true;
  bool meteor = true;
  bool rouge_l = true;
  bool cider_d = true;
  // CIDEr-D document frequencies; null means "from the references being scored" (the toolkit).
  const DocumentFrequency* cider_document_frequency = nullptr;
  std::filesystem::path wordnet_dir = SPARSECAP_DEFAULT_WORDNET_DIR;
  // METEOR's paraphrase table (paraphrase-en.gz); empty runs METEOR without paraphrases
  // (reported as METEOR_no_paraphrase). Defaults to $SPARSECAP_METEOR_PARAPHRASE.
  std::filesystem::path meteor_paraphrase_table = default_meteor_paraphrase_table();
  // Pre-loaded METEOR resources; null means MeteorResources::shared(wordnet_dir,
  // meteor_paraphrase_table), loaded on a second thread while the other metrics run.
  std::shared_ptr<const MeteorResources> meteor_resources;
};

struct MetricScores {
  double corpus = 0.0;
  std::vector<double> per_image;  // in CaptionScores::image_ids order
};

struct CaptionScores {
  std::vector<std::string> image_ids;
  // Keys use the toolkit's names: BLEU_1..BLEU_4, METEOR, ROUGE_L, CIDEr_D (computed ones only).
  // METEOR is the official score (paraphrase table loaded); without the table the key is
  // METEOR_no_paraphrase, so the two are never mistaken for each other.
  std::map<std::string, MetricScores> metrics;
  BleuStatistics bleu_statistics;
  std::string meteor_name;     // "METEOR" or "METEOR_no_paraphrase"; empty when not run
  std::string meteor_modules;  // e.g. "exact+stem+synonym+paraphrase"; empty when not run

  // Throws std::out_of_range naming the metric when it was not computed.
  const MetricScores& metric(const std::string& name) const;
  // METEOR in whichever mode ran (see meteor_name); throws std::out_of_range when it did not.
  const MetricScores& meteor() const;
};

// Pairs references and candidates by id and tokenises both. Throws std::runtime_error naming the
// ids when an image has references but no candidate or the reverse, when an image has no
// references, or when a caption is not valid UTF-8. An empty candidate is allowed (scores 0).
TokenizedCaptionSet tokenize_caption_set(const ReferenceCaptions& references, const CandidateCaptions& candidates);

CaptionScores score_captions(const ReferenceCaptions& references, const CandidateCaptions& candidates,
                             const ScoreOptions& options = {});

CaptionScores score_tokenized_captions(const TokenizedCaptionSet& set, const ScoreOptions& options = {});

// {"image_ids": [...], "corpus": {"BLEU_1": ..}, "per_image": {"BLEU_1": [..]}, "bleu_stats": {..},
//  "meteor_modules": "..", "meteor_name": ".."}
nlohmann::json caption_scores_to_json(const CaptionScores& scores);

}  // namespace sparsecap::eval
