#pragma once
// METEOR 1.5 (Denkowski & Lavie 2014), English, "-norm", as the MS-COCO toolkit runs it: exact,
// Snowball-stem, WordNet-synonym and (with METEOR's paraphrase table) paraphrase matches, the
// METEOR beam-search aligner, content and function word weighting, the fragmentation penalty, the
// best reference per image, and the corpus value from statistics summed over images (what the
// Java tool reports for a whole file). Without the paraphrase table the score is METEOR 1.5 run
// with "-m 'exact stem synonym'", reported as METEOR_no_paraphrase.
#include <array>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "eval/meteor_normalize.h"
#include "eval/meteor_paraphrase_table.h"
#include "eval/tokenize.h"
#include "eval/vocabulary.h"
#include "eval/wordnet_synonyms.h"

namespace sparsecap::eval {

enum class MeteorModule { exact = 0, stem = 1, synonym = 2, paraphrase = 3 };
inline constexpr int kMeteorModuleCount = 4;

struct MeteorParameters {
  // METEOR 1.5 English, task "rank".
  double alpha = 0.85;
  double beta = 0.20;
  double gamma = 0.60;
  double delta = 0.75;
  std::array<double, kMeteorModuleCount> module_weights{1.0, 0.6, 0.8, 0.6};  // exact, stem, synonym, paraphrase
  int beam_size = 40;
};

// The paraphrase table named by the environment variable SPARSECAP_METEOR_PARAPHRASE, else the one
// scripts/install_meteor_paraphrase.sh installs (${XDG_CACHE_HOME:-~/.cache}/sparsecap/meteor/
// paraphrase-en.gz) when it is there, else empty (METEOR without paraphrases).
std::filesystem::path default_meteor_paraphrase_table();

// What the matcher needs besides the words: function words, WordNet when found, and the
// paraphrase table when a path is given.
class MeteorResources {
 public:
  // Loads WordNet from wordnet_dir when its files are there (otherwise no synonym module) and the
  // paraphrase table from paraphrase_table unless it is empty (otherwise no paraphrase module).
  // A paraphrase table that is named but missing or corrupt throws, naming the file.
  static std::shared_ptr<const MeteorResources> load(const std::filesystem::path& wordnet_dir,
                                                     const std::filesystem::path& paraphrase_table = {});
  // Cached per (directory, table), so repeated validation passes load nothing again.
  static std::shared_ptr<const MeteorResources> shared(const std::filesystem::path& wordnet_dir,
                                                       const std::filesystem::path& paraphrase_table = {});

  bool has_synonyms() const { return wordnet_.has_value(); }
  bool has_paraphrases() const { return paraphrases_.has_value(); }
  const WordNetSynonyms* wordnet() const { return wordnet_ ? &*wordnet_ : nullptr; }
  const MeteorParaphraseTable* paraphrases() const { return paraphrases_ ? &*paraphrases_ : nullptr; }
  const std::unordered_set<std::string>& function_words() const { return *function_words_; }
  // "exact+stem+synonym+paraphrase", "exact+stem+synonym", "exact+stem", ...
  std::string modules_description() const;
  // "METEOR" when the paraphrase module runs (the official score), else "METEOR_no_paraphrase".
  std::string metric_name() const;

 private:
  std::optional<WordNetSynonyms> wordnet_;
  std::optional<MeteorParaphraseTable> paraphrases_;
  const std::unordered_set<std::string>* function_words_ = nullptr;
};

// Sufficient statistics of one alignment; they add over images.
struct MeteorStatistics {
  int test_length = 0;
  int reference_length = 0;
  int test_function_words = 0;
  int reference_function_words = 0;
  std::array<int, kMeteorModuleCount> test_content_matches{};
  std::array<int, kMeteorModuleCount> test_function_matches{};
  std::array<int, kMeteorModuleCount> reference_content_matches{};
  std::array<int, kMeteorModuleCount> reference_function_matches{};
  int chunks = 0;
  int test_matches = 0;       // words of the candidate covered by a match
  int reference_matches = 0;  // words of the reference covered by a match

  MeteorStatistics& operator+=(const MeteorStatistics& other);
  // Every word of both sentences matched, in a single chunk: no fragmentation penalty.
  bool is_one_full_chunk() const;
};

double meteor_score(const MeteorStatistics& stats, const MeteorParameters& parameters = {});

// Aligns and scores one candidate with one reference.
MeteorStatistics meteor_statistics(const Tokens& candidate, const Tokens& reference, const MeteorResources& resources,
                                   const MeteorParameters& parameters = {});

struct MeteorScores {
  double corpus = 0.0;
  std::vector<double> per_image;
  std::string modules;  // which matchers ran
  std::string name;     // "METEOR" (with paraphrases) or "METEOR_no_paraphrase"
};

MeteorScores compute_meteor(const TokenizedCaptionSet& set, const MeteorResources& resources,
                            const MeteorParameters& parameters = {});

}  // namespace sparsecap::eval
