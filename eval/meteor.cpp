#include "eval/meteor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "eval/meteor_function_words.h"
#include "eval/meteor_normalize.h"
#include "eval/snowball_english_stemmer.h"

namespace sparsecap::eval {
namespace {

// The aligner ranks partial alignments with its own weights (exact 1, others 0.5) added into
// *integer* fields, so a one-word stem or synonym match adds (int)(k + 0.5) = k: only exact
// matches count toward "more matches wins". Reproduced because it decides which alignment wins.
constexpr std::array<double, kMeteorModuleCount> kAlignmentWeights{1.0, 0.5, 0.5};

struct Match {
  int reference_position = 0;  // Java "start" (line 2 = reference)
  int test_position = 0;       // Java "matchStart" (line 1 = candidate)
  int module = 0;
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
    features.stem = snowball_english_stem(word);
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

// All candidate matches, listed per reference position in module order (exact, stem, synonym),
// with how many matches cover each word.
struct MatchStage {
  std::vector<std::vector<Match>> by_reference_position;
  std::vector<int> test_coverage;
  std::vector<int> reference_coverage;
};

MatchStage find_matches(const Tokens& test, const Tokens& reference, const MeteorResources& resources,
                        WordFeatureCache& features) {
  MatchStage stage;
  stage.by_reference_position.resize(reference.size());
  stage.test_coverage.assign(test.size(), 0);
  stage.reference_coverage.assign(reference.size(), 0);
  auto add = [&](int j, int i, MeteorModule module) {
    stage.by_reference_position[static_cast<std::size_t>(j)].push_back({j, i, static_cast<int>(module)});
    ++stage.test_coverage[static_cast<std::size_t>(i)];
    ++stage.reference_coverage[static_cast<std::size_t>(j)];
  };
  const int test_size = static_cast<int>(test.size());
  const int reference_size = static_cast<int>(reference.size());
  for (int j = 0; j < reference_size; ++j) {
    for (int i = 0; i < test_size; ++i) {
      if (test[i] == reference[j]) add(j, i, MeteorModule::exact);
    }
  }
  // METEOR runs only the exact module on identical sentences (avoids beam-search errors there).
  if (test == reference) return stage;
  for (int j = 0; j < reference_size; ++j) {
    const std::string& reference_stem = features.of(reference[j]).stem;
    for (int i = 0; i < test_size; ++i) {
      if (test[i] != reference[j] && features.of(test[i]).stem == reference_stem) add(j, i, MeteorModule::stem);
    }
  }
  if (!resources.has_synonyms()) return stage;
  for (int j = 0; j < reference_size; ++j) {
    const std::vector<SynsetId>& reference_synsets = features.of(reference[j]).synsets;
    if (reference_synsets.empty()) continue;
    for (int i = 0; i < test_size; ++i) {
      if (test[i] != reference[j] && share_synset(features.of(test[i]).synsets, reference_synsets)) {
        add(j, i, MeteorModule::synonym);
      }
    }
  }
  return stage;
}

struct PartialAlignment {
  std::vector<int> match_module;     // per reference position: module of the chosen match, -1 none
  std::vector<int> match_test_index;  // per reference position: candidate position of the match
  int weighted_test_matches = 0;
  int weighted_reference_matches = 0;
  int chunks = 0;
  int next_position = 0;  // Java "idx"
  int last_match_end = -1;
  int distance = 0;
  std::vector<char> test_used;
  std::vector<char> reference_used;

  bool uses_words_of(const Match& m) const {
    return reference_used[static_cast<std::size_t>(m.reference_position)] ||
           test_used[static_cast<std::size_t>(m.test_position)];
  }
  void take(const Match& m) {
    reference_used[static_cast<std::size_t>(m.reference_position)] = 1;
    test_used[static_cast<std::size_t>(m.test_position)] = 1;
    match_module[static_cast<std::size_t>(m.reference_position)] = m.module;
    match_test_index[static_cast<std::size_t>(m.reference_position)] = m.test_position;
  }
  // Bookkeeping shared by newly chosen and pre-fixed matches (Java's integer += double included).
  void count(const Match& m) {
    const double weight = kAlignmentWeights[static_cast<std::size_t>(m.module)];
    weighted_test_matches = static_cast<int>(weighted_test_matches + weight);
    weighted_reference_matches = static_cast<int>(weighted_reference_matches + weight);
    if (last_match_end != -1 && m.test_position != last_match_end) ++chunks;
    next_position = m.reference_position + 1;
    last_match_end = m.test_position + 1;
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

PartialAlignment initial_alignment(const MatchStage& stage, std::size_t test_size) {
  const std::size_t reference_size = stage.by_reference_position.size();
  PartialAlignment start;
  start.match_module.assign(reference_size, -1);
  start.match_test_index.assign(reference_size, -1);
  start.test_used.assign(test_size, 0);
  start.reference_used.assign(reference_size, 0);
  // A match that is the only one touching both of its words is certain: fix it up front.
  for (std::size_t j = 0; j < reference_size; ++j) {
    const std::vector<Match>& matches = stage.by_reference_position[j];
    if (matches.size() != 1) continue;
    const Match& m = matches.front();
    if (stage.reference_coverage[j] == 1 && stage.test_coverage[static_cast<std::size_t>(m.test_position)] == 1) {
      start.take(m);
    }
  }
  return start;
}

// METEOR's left-to-right beam search over reference positions, reproduced step for step,
// including one quirk of the Java code: the distance of a newly chosen match is charged to the
// path that skips the position (and to matches tried after it), not to the path that takes it.
PartialAlignment resolve(const MatchStage& stage, PartialAlignment start, int beam_size) {
  const int reference_size = static_cast<int>(stage.by_reference_position.size());
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
        } else if (path.match_module[static_cast<std::size_t>(path.next_position)] != -1) {
          const std::size_t fixed = static_cast<std::size_t>(path.next_position);
          const Match m{path.next_position, path.match_test_index[fixed], path.match_module[fixed]};
          path.count(m);
          path.distance += std::abs(m.reference_position - m.test_position);
          next_paths.push_back(std::move(path));
        }
        continue;
      }
      for (const Match& m : stage.by_reference_position[static_cast<std::size_t>(current)]) {
        if (path.uses_words_of(m)) continue;
        PartialAlignment extended = path;
        extended.take(m);
        extended.count(m);
        path.distance += std::abs(m.reference_position - m.test_position);
        next_paths.push_back(std::move(extended));
      }
      if (path.last_match_end != -1) {
        ++path.chunks;
        path.last_match_end = -1;
      }
      ++path.next_position;
      next_paths.push_back(std::move(path));
    }
    if (next_paths.empty()) break;  // unreachable with one-word matches; Java keeps paths[0]
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
  std::vector<char> test_is_function(test.size());
  for (std::size_t i = 0; i < test.size(); ++i) {
    test_is_function[i] = function_words.contains(test[i]);
    stats.test_function_words += test_is_function[i];
  }
  for (const std::string& word : reference) stats.reference_function_words += function_words.contains(word);

  int last_match_end = -1;
  for (std::size_t j = 0; j < reference.size(); ++j) {
    const int module = best.match_module[j];
    if (module == -1) {
      if (last_match_end != -1) {
        ++stats.chunks;
        last_match_end = -1;
      }
      continue;
    }
    const int i = best.match_test_index[j];
    const auto m = static_cast<std::size_t>(module);
    (test_is_function[static_cast<std::size_t>(i)] ? stats.test_function_matches : stats.test_content_matches)[m]++;
    (function_words.contains(reference[j]) ? stats.reference_function_matches : stats.reference_content_matches)[m]++;
    ++stats.test_matches;
    ++stats.reference_matches;
    if (last_match_end != -1 && i != last_match_end) ++stats.chunks;
    last_match_end = i + 1;
  }
  if (last_match_end != -1) ++stats.chunks;
  return stats;
}

MeteorStatistics align_and_count(const Tokens& test, const Tokens& reference, const MeteorResources& resources,
                                 const MeteorParameters& parameters, WordFeatureCache& features) {
  const MatchStage stage = find_matches(test, reference, resources, features);
  const PartialAlignment best = resolve(stage, initial_alignment(stage, test.size()), parameters.beam_size);
  return statistics_of_alignment(test, reference, best, resources);
}

}  // namespace

std::shared_ptr<const MeteorResources> MeteorResources::load(const std::filesystem::path& wordnet_dir) {
  auto resources = std::make_shared<MeteorResources>();
  resources->function_words_ = &english_function_words();
  if (WordNetSynonyms::available(wordnet_dir)) resources->wordnet_ = WordNetSynonyms::load(wordnet_dir);
  return resources;
}

std::shared_ptr<const MeteorResources> MeteorResources::shared(const std::filesystem::path& wordnet_dir) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::shared_ptr<const MeteorResources>> cache;
  std::lock_guard lock(mutex);
  auto& entry = cache[wordnet_dir];
  if (!entry) entry = load(wordnet_dir);
  return entry;
}

std::string MeteorResources::modules_description() const {
  return has_synonyms() ? "exact+stem+synonym" : "exact+stem";
}

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
  return align_and_count(meteor_normalize(candidate), meteor_normalize(reference), resources, parameters, features);
}

MeteorScores compute_meteor(const TokenizedCaptionSet& set, const MeteorResources& resources,
                            const MeteorParameters& parameters) {
  require_consistent(set);
  MeteorScores scores;
  scores.modules = resources.modules_description();
  scores.per_image.reserve(set.candidates.size());
  WordFeatureCache features(resources);
  MeteorStatistics totals;
  for (std::size_t image = 0; image < set.candidates.size(); ++image) {
    // The best-scoring reference wins; the first one on ties (strictly greater replaces).
    MeteorStatistics best_stats;
    double best_score = -1.0;
    const Tokens candidate = meteor_normalize(set.candidates[image]);
    for (const Tokens& raw_reference : set.references[image]) {
      const Tokens reference = meteor_normalize(raw_reference);
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
