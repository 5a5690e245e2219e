#include "eval/meteor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "eval/meteor_function_words.h"
#include "eval/meteor_normalize.h"
#include "eval/english_stemmer.h"

namespace sparsecap::eval {
namespace {

// The aligner ranks partial alignments with its own weights (exact 1, others 0.5) added into
// *integer* fields, so a one-word stem or synonym match adds (int)(k + 0.5) = k: only exact
// matches count toward "more matches wins". Reproduced because it decides which alignment wins.
constexpr std::array<double, kMeteorModuleCount> kAlignmentWeights{1.0, 0.5, 0.5, 0.5};

// A match of reference words [reference_start, + reference_length) with candidate words
// [test_start, + test_length); only paraphrase matches span more than one word.
struct Match {
  int reference_start = 0;  // METEOR's "start" (line 2 = reference)
  int reference_length = 1;
  int test_start = 0;  // METEOR's "matchStart" (line 1 = candidate)
  int test_length = 1;
  int module = -1;  // -1: no match
};

// Per distinct word: its stem and synsets, computed once per scoring call.
struct WordFeatures {
  std::string stem;
  std::vector<SynsetId> synsets;
};

class WordFeatureCache {
 public:
  explicit WordFeatureCache(const MeteorResources& resources) : resources_(resources) {}

  const WordFeatures& of(const std::string& word) {
    auto found = cache_.find(word);
    if (found != cache_.end()) return found->second;
    WordFeatures features;
    features.stem = english_stem(word);
    if (const WordNetSynonyms* wordnet = resources_.wordnet()) features.synsets = wordnet->synsets_with_base_forms(word);
    return cache_.emplace(word, std::move(features)).first->second;
  }

 private:
  const MeteorResources& resources_;
  std::unordered_map<std::string, WordFeatures> cache_;
};

bool share_synset(const std::vector<SynsetId>& a, const std::vector<SynsetId>& b) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) return true;
    if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return false;
}

// The word spans of a sentence that are phrases of the paraphrase table.
struct PhraseSpan {
  int start = 0;
  int length = 0;
  MeteorParaphraseTable::PhraseId phrase = MeteorParaphraseTable::kNotAPhrase;
};

std::vector<PhraseSpan> phrase_spans(const Tokens& words, const MeteorParaphraseTable& table) {
  std::vector<PhraseSpan> spans;
  std::string phrase;
  const int size = static_cast<int>(words.size());
  for (int start = 0; start < size; ++start) {
    phrase.clear();
    for (int length = 1; length <= table.longest_phrase_words() && start + length <= size; ++length) {
      if (length > 1) phrase.push_back(' ');
      phrase += words[static_cast<std::size_t>(start + length - 1)];
      const MeteorParaphraseTable::PhraseId id = table.find(phrase);
      if (id != MeteorParaphraseTable::kNotAPhrase) spans.push_back({start, length, id});
    }
  }
  return spans;
}

// All candidate matches, listed per reference start position in module order (exact, stem,
// synonym, paraphrase), with how many matches cover each word.
struct MatchStage {
  std::vector<std::vector<Match>> by_reference_start;
  std::vector<int> test_coverage;
  std::vector<int> reference_coverage;

  void add(const Match& m) {
    by_reference_start[static_cast<std::size_t>(m.reference_start)].push_back(m);
    for (int k = 0; k < m.test_length; ++k) ++test_coverage[static_cast<std::size_t>(m.test_start + k)];
    for (int k = 0; k < m.reference_length; ++k) ++reference_coverage[static_cast<std::size_t>(m.reference_start + k)];
  }
};

// Every (candidate phrase, reference phrase) pair the table lists. A pair listed in both
// directions gives two identical matches, as in METEOR: its words are then covered twice, so the
// match is not fixed up front and the beam search decides (a one-word paraphrase then loses to
// skipping, see kAlignmentWeights).
void add_paraphrase_matches(const std::vector<PhraseSpan>& test_spans, const std::vector<PhraseSpan>& reference_spans,
                            const MeteorParaphraseTable& table, MatchStage& stage) {
  const auto paraphrase = static_cast<int>(MeteorModule::paraphrase);
  // Matches listed under the reference phrase come first, shorter reference phrases first; then
  // those listed under the candidate phrase, in candidate order. This is the order in which the
  // Java tool tries them, and it matters: ties between partial alignments go to the one found first.
  std::vector<Match> reference_keyed;
  std::vector<Match> test_keyed;
  for (const PhraseSpan& t : test_spans) {
    for (const PhraseSpan& r : reference_spans) {
      const Match m{r.start, r.length, t.start, t.length, paraphrase};
      if (table.lists(r.phrase, t.phrase)) reference_keyed.push_back(m);
      if (table.lists(t.phrase, r.phrase)) test_keyed.push_back(m);
    }
  }
  std::stable_sort(reference_keyed.begin(), reference_keyed.end(), [](const Match& a, const Match& b) {
    return a.reference_length < b.reference_length;
  });
  std::vector<Match> found = std::move(reference_keyed);
  found.insert(found.end(), test_keyed.begin(), test_keyed.end());
  for (const Match& m : found) stage.add(m);
}

// A -norm sentence and the paraphrase-table phrases in it, prepared once per sentence (a
// candidate is aligned with each of its references).
struct PreparedSentence {
  Tokens words;
  std::vector<PhraseSpan> phrases;
};

PreparedSentence prepare_sentence(const Tokens& tokens, const MeteorResources& resources) {
  PreparedSentence sentence{meteor_normalize(tokens), {}};
  if (const MeteorParaphraseTable* table = resources.paraphrases()) sentence.phrases = phrase_spans(sentence.words, *table);
  return sentence;
}

MatchStage find_matches(const PreparedSentence& test_sentence, const PreparedSentence& reference_sentence,
                        const MeteorResources& resources, WordFeatureCache& features) {
  const Tokens& test = test_sentence.words;
  const Tokens& reference = reference_sentence.words;
  MatchStage stage;
  stage.by_reference_start.resize(reference.size());
  stage.test_coverage.assign(test.size(), 0);
  stage.reference_coverage.assign(reference.size(), 0);
  const int test_size = static_cast<int>(test.size());
  const int reference_size = static_cast<int>(reference.size());
  const auto one_word = [](int j, int i, MeteorModule module) { return Match{j, 1, i, 1, static_cast<int>(module)}; };
  for (int j = 0; j < reference_size; ++j) {
    for (int i = 0; i < test_size; ++i) {
      if (test[i] == reference[j]) stage.add(one_word(j, i, MeteorModule::exact));
    }
  }
  // METEOR runs only the exact module on identical sentences (avoids beam-search errors there).
  if (test == reference) return stage;
  for (int j = 0; j < reference_size; ++j) {
    const std::string& reference_stem = features.of(reference[j]).stem;
    for (int i = 0; i < test_size; ++i) {
      if (test[i] != reference[j] && features.of(test[i]).stem == reference_stem) {
        stage.add(one_word(j, i, MeteorModule::stem));
      }
    }
  }
  if (resources.has_synonyms()) {
    for (int j = 0; j < reference_size; ++j) {
      const std::vector<SynsetId>& reference_synsets = features.of(reference[j]).synsets;
      if (reference_synsets.empty()) continue;
      for (int i = 0; i < test_size; ++i) {
        if (test[i] != reference[j] && share_synset(features.of(test[i]).synsets, reference_synsets)) {
          stage.add(one_word(j, i, MeteorModule::synonym));
        }
      }
    }
  }
  if (const MeteorParaphraseTable* table = resources.paraphrases()) {
    add_paraphrase_matches(test_sentence.phrases, reference_sentence.phrases, *table, stage);
  }
  return stage;
}

struct PartialAlignment {
  std::vector<Match> match_at;  // per reference position: the chosen match starting there
  int weighted_test_matches = 0;
  int weighted_reference_matches = 0;
  int chunks = 0;
  int next_position = 0;  // METEOR's "idx"
  int last_match_end = -1;
  int distance = 0;
  std::vector<char> test_used;
  std::vector<char> reference_used;

  bool uses_words_of(const Match& m) const {
    for (int k = 0; k < m.reference_length; ++k) {
      if (reference_used[static_cast<std::size_t>(m.reference_start + k)]) return true;
    }
    for (int k = 0; k < m.test_length; ++k) {
      if (test_used[static_cast<std::size_t>(m.test_start + k)]) return true;
    }
    return false;
  }
  void take(const Match& m) {
    for (int k = 0; k < m.reference_length; ++k) reference_used[static_cast<std::size_t>(m.reference_start + k)] = 1;
    for (int k = 0; k < m.test_length; ++k) test_used[static_cast<std::size_t>(m.test_start + k)] = 1;
    match_at[static_cast<std::size_t>(m.reference_start)] = m;
  }
  // Bookkeeping shared by newly chosen and pre-fixed matches (Java's integer += double included).
  void count(const Match& m) {
    const double weight = kAlignmentWeights[static_cast<std::size_t>(m.module)];
    weighted_test_matches = static_cast<int>(weighted_test_matches + weight * m.test_length);
    weighted_reference_matches = static_cast<int>(weighted_reference_matches + weight * m.reference_length);
    if (last_match_end != -1 && m.test_start != last_match_end) ++chunks;
    next_position = m.reference_start + m.reference_length;
    last_match_end = m.test_start + m.test_length;
  }
};

// More (alignment-weighted) matches, then fewer chunks, then smaller distance.
bool ranks_before(const PartialAlignment& x, const PartialAlignment& y) {
  const int x_matches = x.weighted_test_matches + x.weighted_reference_matches;
  const int y_matches = y.weighted_test_matches + y.weighted_reference_matches;
  if (x_matches != y_matches) return x_matches > y_matches;
  if (x.chunks != y.chunks) return x.chunks < y.chunks;
  return x.distance < y.distance;
}

bool covers_only_once(const std::vector<int>& coverage, int start, int length) {
  for (int k = 0; k < length; ++k) {
    if (coverage[static_cast<std::size_t>(start + k)] != 1) return false;
  }
  return true;
}

PartialAlignment initial_alignment(const MatchStage& stage, std::size_t test_size) {
  const std::size_t reference_size = stage.by_reference_start.size();
  PartialAlignment start;
  start.match_at.assign(reference_size, Match{});
  start.test_used.assign(test_size, 0);
  start.reference_used.assign(reference_size, 0);
  // A match that is the only one touching each of its words is certain: fix it up front.
  for (const std::vector<Match>& matches : stage.by_reference_start) {
    if (matches.size() != 1) continue;
    const Match& m = matches.front();
    if (covers_only_once(stage.reference_coverage, m.reference_start, m.reference_length) &&
        covers_only_once(stage.test_coverage, m.test_start, m.test_length)) {
      start.take(m);
    }
  }
  return start;
}

// METEOR's left-to-right beam search over reference positions, reproduced step for step,
// including one quirk of the Java code: the distance of a newly chosen match is charged to the
// path that skips the position (and to matches tried after it), not to the path that takes it.
PartialAlignment resolve(const MatchStage& stage, PartialAlignment start, int beam_size) {
  const int reference_size = static_cast<int>(stage.by_reference_start.size());
  std::vector<PartialAlignment> next_paths;
  next_paths.push_back(std::move(start));
  for (int current = 0; current <= reference_size; ++current) {
    std::vector<PartialAlignment> paths = std::move(next_paths);
    next_paths.clear();
    std::stable_sort(paths.begin(), paths.end(), ranks_before);
    const std::size_t kept = std::min(paths.size(), static_cast<std::size_t>(beam_size));
    for (std::size_t rank = 0; rank < kept; ++rank) {
      PartialAlignment& path = paths[rank];
      if (current == reference_size) {
        if (path.last_match_end != -1) ++path.chunks;
        next_paths.push_back(std::move(path));
        continue;
      }
      if (path.reference_used[static_cast<std::size_t>(current)]) {
        if (current < path.next_position) {
          next_paths.push_back(std::move(path));
        } else if (path.match_at[static_cast<std::size_t>(path.next_position)].module != -1) {
          const Match m = path.match_at[static_cast<std::size_t>(path.next_position)];
          path.count(m);
          path.distance += std::abs(m.reference_start - m.test_start);
          next_paths.push_back(std::move(path));
        }
        continue;
      }
      for (const Match& m : stage.by_reference_start[static_cast<std::size_t>(current)]) {
        if (path.uses_words_of(m)) continue;
        PartialAlignment extended = path;
        extended.take(m);
        extended.count(m);
        path.distance += std::abs(m.reference_start - m.test_start);
        next_paths.push_back(std::move(extended));
      }
      if (path.last_match_end != -1) {
        ++path.chunks;
        path.last_match_end = -1;
      }
      ++path.next_position;
      next_paths.push_back(std::move(path));
    }
    if (next_paths.empty()) break;  // unreachable in practice; Java keeps paths[0]
  }
  std::stable_sort(next_paths.begin(), next_paths.end(), ranks_before);
  return std::move(next_paths.front());
}

MeteorStatistics statistics_of_alignment(const Tokens& test, const Tokens& reference, const PartialAlignment& best,
                                         const MeteorResources& resources) {
  const auto& function_words = resources.function_words();
  MeteorStatistics stats;
  stats.test_length = static_cast<int>(test.size());
  stats.reference_length = static_cast<int>(reference.size());
  for (const std::string& word : test) stats.test_function_words += function_words.contains(word);
  for (const std::string& word : reference) stats.reference_function_words += function_words.contains(word);

  int last_match_end = -1;
  std::size_t j = 0;
  while (j < reference.size()) {
    const Match& m = best.match_at[j];
    if (m.module == -1) {
      if (last_match_end != -1) {
        ++stats.chunks;
        last_match_end = -1;
      }
      ++j;
      continue;
    }
    const auto module = static_cast<std::size_t>(m.module);
    for (int k = 0; k < m.test_length; ++k) {
      const bool function = function_words.contains(test[static_cast<std::size_t>(m.test_start + k)]);
      ++(function ? stats.test_function_matches : stats.test_content_matches)[module];
    }
    for (int k = 0; k < m.reference_length; ++k) {
      const bool function = function_words.contains(reference[static_cast<std::size_t>(m.reference_start + k)]);
      ++(function ? stats.reference_function_matches : stats.reference_content_matches)[module];
    }
    stats.test_matches += m.test_length;
    stats.reference_matches += m.reference_length;
    if (last_match_end != -1 && m.test_start != last_match_end) ++stats.chunks;
    last_match_end = m.test_start + m.test_length;
    j += static_cast<std::size_t>(m.reference_length);
  }
  if (last_match_end != -1) ++stats.chunks;
  return stats;
}

MeteorStatistics align_and_count(const PreparedSentence& test, const PreparedSentence& reference,
                                 const MeteorResources& resources, const MeteorParameters& parameters,
                                 WordFeatureCache& features) {
  const MatchStage stage = find_matches(test, reference, resources, features);
  const PartialAlignment best = resolve(stage, initial_alignment(stage, test.words.size()), parameters.beam_size);
  return statistics_of_alignment(test.words, reference.words, best, resources);
}

}  // namespace

std::filesystem::path default_meteor_paraphrase_table() {
  if (const char* path = std::getenv("SPARSECAP_METEOR_PARAPHRASE")) return path;
  // Where scripts/install_meteor_paraphrase.sh puts it (the folder of the table's cached index).
  const std::optional<std::filesystem::path> folder = MeteorParaphraseTable::default_index_directory();
  if (!folder) return {};
  const std::filesystem::path installed = *folder / "paraphrase-en.gz";
  std::error_code error;
  return std::filesystem::is_regular_file(installed, error) ? installed : std::filesystem::path();
}

std::shared_ptr<const MeteorResources> MeteorResources::load(const std::filesystem::path& wordnet_dir,
                                                             const std::filesystem::path& paraphrase_table) {
  auto resources = std::make_shared<MeteorResources>();
  resources->function_words_ = &english_function_words();
  if (WordNetSynonyms::available(wordnet_dir)) resources->wordnet_ = WordNetSynonyms::load(wordnet_dir);
  if (!paraphrase_table.empty()) resources->paraphrases_ = MeteorParaphraseTable::load(paraphrase_table);
  return resources;
}

std::shared_ptr<const MeteorResources> MeteorResources::shared(const std::filesystem::path& wordnet_dir,
                                                               const std::filesystem::path& paraphrase_table) {
  static std::mutex mutex;
  static std::map<std::pair<std::filesystem::path, std::filesystem::path>, std::shared_ptr<const MeteorResources>>
      cache;
  std::lock_guard lock(mutex);
  auto& entry = cache[{wordnet_dir, paraphrase_table}];
  if (!entry) entry = load(wordnet_dir, paraphrase_table);
  return entry;
}

std::string MeteorResources::modules_description() const {
  std::string modules = "exact+stem";
  if (has_synonyms()) modules += "+synonym";
  if (has_paraphrases()) modules += "+paraphrase";
  return modules;
}

std::string MeteorResources::metric_name() const { return has_paraphrases() ? "METEOR" : "METEOR_no_paraphrase"; }

MeteorStatistics& MeteorStatistics::operator+=(const MeteorStatistics& other) {
  test_length += other.test_length;
  reference_length += other.reference_length;
  test_function_words += other.test_function_words;
  reference_function_words += other.reference_function_words;
  for (int m = 0; m < kMeteorModuleCount; ++m) {
    test_content_matches[m] += other.test_content_matches[m];
    test_function_matches[m] += other.test_function_matches[m];
    reference_content_matches[m] += other.reference_content_matches[m];
    reference_function_matches[m] += other.reference_function_matches[m];
  }
  chunks += other.chunks;
  test_matches += other.test_matches;
  reference_matches += other.reference_matches;
  return *this;
}

bool MeteorStatistics::is_one_full_chunk() const {
  return test_matches == test_length && reference_matches == reference_length && chunks == 1;
}

double meteor_score(const MeteorStatistics& stats, const MeteorParameters& p) {
  const double test_weighted_length =
      p.delta * (stats.test_length - stats.test_function_words) + (1.0 - p.delta) * stats.test_function_words;
  const double reference_weighted_length = p.delta * (stats.reference_length - stats.reference_function_words) +
                                           (1.0 - p.delta) * stats.reference_function_words;
  // Summed in the Java tool's order (all content terms, then all function terms) so that
  // near-ties between references round, and therefore resolve, the same way.
  double test_weighted_matches = 0.0;
  double reference_weighted_matches = 0.0;
  for (int m = 0; m < kMeteorModuleCount; ++m) test_weighted_matches += stats.test_content_matches[m] * p.module_weights[m] * p.delta;
  for (int m = 0; m < kMeteorModuleCount; ++m) {
    reference_weighted_matches += stats.reference_content_matches[m] * p.module_weights[m] * p.delta;
  }
  for (int m = 0; m < kMeteorModuleCount; ++m) {
    test_weighted_matches += stats.test_function_matches[m] * p.module_weights[m] * (1.0 - p.delta);
  }
  for (int m = 0; m < kMeteorModuleCount; ++m) {
    reference_weighted_matches += stats.reference_function_matches[m] * p.module_weights[m] * (1.0 - p.delta);
  }
  const double precision = test_weighted_matches / test_weighted_length;
  const double recall = reference_weighted_matches / reference_weighted_length;
  const double f_mean = 1.0 / (((1.0 - p.alpha) / precision) + (p.alpha / recall));
  // An identical candidate and reference: one chunk covering everything costs nothing.
  const double fragmentation =
      stats.is_one_full_chunk() ? 0.0 : stats.chunks / (static_cast<double>(stats.test_matches + stats.reference_matches) / 2.0);
  const double penalty = p.gamma * std::pow(fragmentation, p.beta);
  const double score = f_mean * (1.0 - penalty);
  // 0/0 (empty candidate, no matches) reads as 0, as in the Java tool.
  return std::isnan(score) ? 0.0 : std::max(score, 0.0);
}

MeteorStatistics meteor_statistics(const Tokens& candidate, const Tokens& reference, const MeteorResources& resources,
                                   const MeteorParameters& parameters) {
  WordFeatureCache features(resources);
  return align_and_count(prepare_sentence(candidate, resources), prepare_sentence(reference, resources), resources,
                         parameters, features);
}

MeteorScores compute_meteor(const TokenizedCaptionSet& set, const MeteorResources& resources,
                            const MeteorParameters& parameters) {
  require_consistent(set);
  MeteorScores scores;
  scores.modules = resources.modules_description();
  scores.name = resources.metric_name();
  scores.per_image.reserve(set.candidates.size());
  WordFeatureCache features(resources);
  MeteorStatistics totals;
  for (std::size_t image = 0; image < set.candidates.size(); ++image) {
    // The best-scoring reference wins; the first one on ties (strictly greater replaces).
    MeteorStatistics best_stats;
    double best_score = -1.0;
    const PreparedSentence candidate = prepare_sentence(set.candidates[image], resources);
    for (const Tokens& raw_reference : set.references[image]) {
      const PreparedSentence reference = prepare_sentence(raw_reference, resources);
      const MeteorStatistics stats = align_and_count(candidate, reference, resources, parameters, features);
      const double score = meteor_score(stats, parameters);
      if (score > best_score) {
        best_score = score;
        best_stats = stats;
      }
    }
    scores.per_image.push_back(best_score);
    // The Java tool zeroes the chunk count of a fully matched one-chunk segment when it scores
    // it, before adding it to the corpus totals; the fixtures' corpus values only fit that way.
    if (best_stats.is_one_full_chunk()) best_stats.chunks = 0;
    totals += best_stats;
  }
  scores.corpus = meteor_score(totals, parameters);
  return scores;
}

}  // namespace sparsecap::eval
