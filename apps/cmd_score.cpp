// `sparsecap score`: scores candidate captions against references with BLEU-1..4, METEOR,
// ROUGE-L and CIDEr-D (the MS-COCO toolkit's conventions), prints a table and caption
// statistics, and optionally writes everything as JSON.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "apps/commands.h"
#include "eval/caption_stats.h"
#include "eval/cider.h"
#include "eval/coco_results.h"
#include "eval/score.h"
#include "eval/tokenize.h"

namespace sparsecap::apps {
namespace {

struct ScoreCommandOptions {
  std::string references_path;
  std::string candidates_path;
  std::string split = "test";
  std::string json_path;
  std::string cider_df_path;
  std::string save_cider_df_path;
  std::string training_captions_path;
  std::string wordnet_dir = SPARSECAP_DEFAULT_WORDNET_DIR;
  std::string meteor_paraphrase_table = eval::default_meteor_paraphrase_table().string();
  std::size_t vocabulary_size = 0;
  bool no_meteor = false;
};

std::string format_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", value);
  return buffer;
}

void print_table(const eval::CaptionScores& scores, const eval::CaptionStatistics& stats, bool have_training) {
  std::cout << "images: " << scores.image_ids.size() << "\n\n";
  constexpr std::size_t kNameWidth = 22;  // fits METEOR_no_paraphrase
  std::cout << "metric" << std::string(kNameWidth - 6, ' ') << "corpus\n";
  for (const std::string name :
       {"BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4", "METEOR", "METEOR_no_paraphrase", "ROUGE_L", "CIDEr_D"}) {
    auto found = scores.metrics.find(name);
    if (found == scores.metrics.end()) continue;
    std::cout << name << std::string(kNameWidth - name.size(), ' ') << format_number(found->second.corpus);
    if (name == "METEOR") std::cout << "  (" << scores.meteor_modules << ": METEOR 1.5 as in the COCO toolkit)";
    if (name == "METEOR_no_paraphrase") {
      std::cout << "  (" << scores.meteor_modules << "; no paraphrase table: below published METEOR)";
    }
    std::cout << "\n";
  }
  std::cout << "\ncaptions: " << stats.caption_count << ", unique " << format_number(stats.percent_unique) << "%";
  if (have_training) std::cout << ", not in training " << format_number(stats.percent_novel) << "%";
  std::cout << ", average length " << format_number(stats.average_length) << " words, vocabulary used "
            << stats.distinct_words;
  if (stats.vocabulary_size > 0) {
    std::cout << " / " << stats.vocabulary_size << " (" << format_number(100.0 * stats.vocabulary_fraction) << "%)";
  }
  std::cout << "\n";
}

nlohmann::json statistics_json(const eval::CaptionStatistics& stats, bool have_training) {
  nlohmann::json json{{"captions", stats.caption_count},
                      {"percent_unique", stats.percent_unique},
                      {"average_length", stats.average_length},
                      {"distinct_words", stats.distinct_words}};
  if (have_training) json["percent_not_in_training"] = stats.percent_novel;
  if (stats.vocabulary_size > 0) {
    json["vocabulary_size"] = stats.vocabulary_size;
    json["vocabulary_fraction"] = stats.vocabulary_fraction;
  }
  return json;
}

std::vector<eval::Tokens> tokenized_training_captions(const std::string& path) {
  std::vector<eval::Tokens> captions;
  if (path.empty()) return captions;
  for (const auto& [id, references] : eval::read_reference_captions(path, "train")) {
    for (const std::string& caption : references) captions.push_back(eval::tokenize_caption(caption));
  }
  return captions;
}

void run_score(const ScoreCommandOptions& options) {
  // METEOR's WordNet and paraphrase table load while the files are read and tokenised; scoring
  // picks them up from MeteorResources::shared's cache.
  std::future<std::shared_ptr<const eval::MeteorResources>> meteor_preload;
  if (!options.no_meteor) {
    meteor_preload = std::async(std::launch::async, [&options] {
      return eval::MeteorResources::shared(options.wordnet_dir, options.meteor_paraphrase_table);
    });
  }
  const eval::ReferenceCaptions references = eval::read_reference_captions(options.references_path, options.split);
  const eval::CandidateCaptions candidates = eval::read_candidate_captions(options.candidates_path);
  const eval::TokenizedCaptionSet set = [&] {
    try {
      return eval::tokenize_caption_set(references, candidates);
    } catch (const std::runtime_error& error) {  // ids that do not match, a caption that does not tokenize
      throw std::runtime_error(options.candidates_path + " (references " + options.references_path +
                               "): " + error.what());
    }
  }();

  if (!options.save_cider_df_path.empty()) {
    eval::save_document_frequency(eval::document_frequency_of(set.references), options.save_cider_df_path);
  }
  std::optional<eval::DocumentFrequency> document_frequency;
  eval::ScoreOptions score_options;
  score_options.meteor = !options.no_meteor;
  score_options.wordnet_dir = options.wordnet_dir;
  score_options.meteor_paraphrase_table = options.meteor_paraphrase_table;
  if (!options.cider_df_path.empty()) {
    document_frequency = eval::load_document_frequency(options.cider_df_path);
    score_options.cider_document_frequency = &*document_frequency;
  }
  const eval::CaptionScores scores = eval::score_tokenized_captions(set, score_options);

  const bool have_training = !options.training_captions_path.empty();
  const eval::CaptionStatistics stats = eval::caption_statistics(
      set.candidates, tokenized_training_captions(options.training_captions_path), options.vocabulary_size);
  print_table(scores, stats, have_training);

  if (!options.json_path.empty()) {
    nlohmann::json json = eval::caption_scores_to_json(scores);
    json["caption_statistics"] = statistics_json(stats, have_training);
    json["cider_document_frequency"] = options.cider_df_path.empty() ? "references" : options.cider_df_path;
    std::ofstream out(options.json_path);
    if (!out) throw std::runtime_error("cannot write " + options.json_path);
    out << json.dump(1) << "\n";
    if (!out) throw std::runtime_error("failed writing " + options.json_path);
  }
}

}  // namespace

void add_score_command(CLI::App& app) {
  auto options = std::make_shared<ScoreCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "score", "Score captions with BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (MS-COCO toolkit conventions)");
  command->add_option("--refs", options->references_path,
                      "references: COCO annotations, Karpathy-split JSON or a sparsecap fixture")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--cands", options->candidates_path, "candidates: COCO results [{image_id, caption}]")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--split", options->split, "Karpathy split to take references from")->capture_default_str();
  command->add_option("--json", options->json_path, "also write scores, per-image values and statistics here");
  command->add_option("--cider-df", options->cider_df_path,
                      "CIDEr-D document frequencies from this file instead of the references");
  command->add_option("--save-cider-df", options->save_cider_df_path,
                      "write the references' CIDEr-D document frequencies to this file");
  command->add_option("--train-captions", options->training_captions_path,
                      "training captions (Karpathy split 'train' or COCO annotations) for '% not in training'");
  command->add_option("--vocab-size", options->vocabulary_size, "vocabulary size for 'vocabulary used'");
  command->add_option("--wordnet", options->wordnet_dir, "WordNet database directory for METEOR synonyms")
      ->capture_default_str();
  command->add_option("--meteor-paraphrase", options->meteor_paraphrase_table,
                      "METEOR 1.5's paraphrase-en.gz: METEOR as published (default $SPARSECAP_METEOR_PARAPHRASE); "
                      "without it METEOR is reported as METEOR_no_paraphrase")
      ->check(CLI::ExistingFile);
  command->add_flag("--no-meteor", options->no_meteor, "skip METEOR");
  command->callback([options] { run_score(*options); });
}

}  // namespace sparsecap::apps
