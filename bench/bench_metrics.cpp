// Wall time of each caption metric on one thread for a validation-sized set: 5 000 candidates
// against 25 000 references (5 per image), generated here. Targets: all four metrics together
// under 2 s without METEOR's paraphrases (issue 6; "share_of_2s"), and `sparsecap score` with
// paraphrases under 3 s on 2 cores (issue 20; BM_ScoreAllMetricsWithParaphrases, one thread).
// The paraphrase benchmarks need METEOR's paraphrase-en.gz (SPARSECAP_METEOR_PARAPHRASE or
// scripts/install_meteor_paraphrase.sh) and report an error row without it.
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "eval/bleu.h"
#include "eval/cider.h"
#include "eval/meteor.h"
#include "eval/rouge.h"
#include "eval/score.h"
#include "eval/vocabulary.h"

namespace {

using sparsecap::eval::EncodedCaptionSet;
using sparsecap::eval::Tokens;
using sparsecap::eval::TokenizedCaptionSet;

constexpr int kImages = 5000;
constexpr int kReferencesPerImage = 5;
constexpr double kBudgetSeconds = 2.0;

// Real caption words first (so stemming and WordNet lookups do real work), then a long tail.
std::vector<std::string> make_word_list() {
  std::vector<std::string> words{
      "a", "an", "the", "of", "on", "in", "with", "and", "is", "are", "at", "to", "near", "next", "two", "three",
      "man", "woman", "men", "women", "people", "person", "child", "children", "boy", "girl", "dog", "dogs", "cat",
      "cats", "horse", "horses", "bus", "buses", "car", "cars", "train", "plate", "food", "pizza", "table", "street",
      "road", "field", "grass", "beach", "water", "ocean", "wave", "surfboard", "kite", "sky", "tree", "trees",
      "standing", "sitting", "riding", "rides", "walking", "walks", "playing", "plays", "eating", "holding", "holds",
      "flying", "looking", "large", "small", "big", "little", "red", "white", "black", "green", "blue", "yellow",
      "brown", "young", "old", "tall", "room", "kitchen", "bathroom", "toilet", "sink", "bed", "couch", "laptop",
      "computer", "phone", "umbrella", "giraffe", "elephant", "zebra", "bear", "bird", "birds", "sheep", "cow",
      "cows", "ball", "frisbee", "baseball", "tennis", "racket", "bat", "player", "game", "snow", "skis", "skier",
      "board", "skateboard", "sign", "clock", "tower", "building", "city", "park", "bench", "window", "door",
      "picture", "photo", "top", "side", "front", "back", "down", "up", "over", "under", "middle", "group", "pair",
      "couple", "several", "some", "other", "each", "while", "during", "day", "night", "light", "traffic", "truck",
      "boat", "boats", "river", "lake", "mountain", "hill", "rock", "sand", "shore", "dirt", "wooden", "metal",
      "glass", "cup", "bowl", "sandwich", "cake", "donut", "banana", "bananas", "apple", "orange", "broccoli"};
  for (int i = 0; words.size() < 2000; ++i) words.push_back("word" + std::to_string(i));
  return words;
}

Tokens random_sentence(std::mt19937& rng, const std::vector<std::string>& words) {
  std::uniform_int_distribution<int> length(7, 14);
  // Skewed choice: most words from the common head, as in real captions.
  std::geometric_distribution<int> rank(0.02);
  Tokens sentence;
  const int n = length(rng);
  for (int i = 0; i < n; ++i) sentence.push_back(words[static_cast<std::size_t>(rank(rng)) % words.size()]);
  return sentence;
}

// Candidate = a reference with some words replaced, dropped or swapped.
Tokens perturbed(std::mt19937& rng, Tokens sentence, const std::vector<std::string>& words) {
  std::uniform_int_distribution<int> percent(0, 99);
  std::uniform_int_distribution<std::size_t> pick(0, 300);
  for (std::string& word : sentence) {
    if (percent(rng) < 25) word = words[pick(rng)];
  }
  if (sentence.size() > 3 && percent(rng) < 30) std::swap(sentence[1], sentence[2]);
  if (sentence.size() > 3 && percent(rng) < 30) sentence.pop_back();
  return sentence;
}

const TokenizedCaptionSet& benchmark_set() {
  static const TokenizedCaptionSet set = [] {
    const std::vector<std::string> words = make_word_list();
    std::mt19937 rng(20240501);
    TokenizedCaptionSet made;
    for (int image = 0; image < kImages; ++image) {
      made.image_ids.push_back(std::to_string(image));
      std::vector<Tokens> references;
      for (int r = 0; r < kReferencesPerImage; ++r) references.push_back(random_sentence(rng, words));
      made.candidates.push_back(perturbed(rng, references[0], words));
      made.references.push_back(std::move(references));
    }
    return made;
  }();
  return set;
}

const EncodedCaptionSet& encoded_set() {
  static sparsecap::eval::Vocabulary vocabulary;
  static const EncodedCaptionSet encoded = sparsecap::eval::encode_caption_set(benchmark_set(), vocabulary);
  return encoded;
}

void report_share(benchmark::State& state, double seconds_per_run) {
  state.counters["share_of_2s"] = seconds_per_run / kBudgetSeconds;
}

template <typename Run>
void time_metric(benchmark::State& state, Run run) {
  double total_seconds = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(run());
    total_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  report_share(state, total_seconds / static_cast<double>(state.iterations()));
}

void BM_Bleu(benchmark::State& state) {
  const EncodedCaptionSet& set = encoded_set();
  time_metric(state, [&] { return sparsecap::eval::compute_bleu(set).corpus[3]; });
}

void BM_RougeL(benchmark::State& state) {
  const EncodedCaptionSet& set = encoded_set();
  time_metric(state, [&] { return sparsecap::eval::compute_rouge_l(set).corpus; });
}

void BM_CiderD(benchmark::State& state) {
  const EncodedCaptionSet& set = encoded_set();
  time_metric(state, [&] { return sparsecap::eval::compute_cider_d(set).corpus; });
}

void BM_Meteor(benchmark::State& state) {
  const TokenizedCaptionSet& set = benchmark_set();
  // WordNet is read once per process (as in a trainer); loading is timed separately below.
  const auto resources = sparsecap::eval::MeteorResources::shared(SPARSECAP_DEFAULT_WORDNET_DIR);
  state.SetLabel(resources->modules_description());
  time_metric(state, [&] { return sparsecap::eval::compute_meteor(set, *resources).corpus; });
}

void BM_MeteorWordNetLoad(benchmark::State& state) {
  time_metric(state, [] { return sparsecap::eval::MeteorResources::load(SPARSECAP_DEFAULT_WORDNET_DIR)->has_synonyms(); });
}

// The paraphrase table named by the environment or installed, or a skipped benchmark.
std::filesystem::path paraphrase_table_or_skip(benchmark::State& state) {
  const std::filesystem::path table = sparsecap::eval::default_meteor_paraphrase_table();
  if (table.empty()) state.SkipWithError("no METEOR paraphrase table (SPARSECAP_METEOR_PARAPHRASE)");
  return table;
}

void BM_MeteorWithParaphrases(benchmark::State& state) {
  const std::filesystem::path table = paraphrase_table_or_skip(state);
  if (table.empty()) return;
  const TokenizedCaptionSet& set = benchmark_set();
  const auto resources = sparsecap::eval::MeteorResources::shared(SPARSECAP_DEFAULT_WORDNET_DIR, table);
  state.SetLabel(resources->modules_description());
  time_metric(state, [&] { return sparsecap::eval::compute_meteor(set, *resources).corpus; });
}

// Parsing paraphrase-en.gz (what the first load does, before it caches the index).
void BM_MeteorParaphraseTableParse(benchmark::State& state) {
  const std::filesystem::path table = paraphrase_table_or_skip(state);
  if (table.empty()) return;
  std::size_t bytes = 0;
  time_metric(state, [&] {
    const auto parsed = sparsecap::eval::MeteorParaphraseTable::load(table, std::nullopt);
    bytes = parsed.memory_bytes();
    return parsed.pair_count();
  });
  state.counters["index_MB"] = static_cast<double>(bytes) / 1e6;
}

// Mapping the cached index (every later load).
void BM_MeteorParaphraseIndexMap(benchmark::State& state) {
  const std::filesystem::path table = paraphrase_table_or_skip(state);
  if (table.empty()) return;
  sparsecap::eval::MeteorParaphraseTable::load(table);  // makes sure the index exists
  time_metric(state, [&] { return sparsecap::eval::MeteorParaphraseTable::load(table).loaded_from_index(); });
}

// What `sparsecap score` does after reading and tokenising: load METEOR's resources (WordNet,
// mapped paraphrase index) and compute all metrics, here one after the other on one thread (the
// command overlaps the loading with the other metrics on a second thread).
void BM_ScoreAllMetricsWithParaphrases(benchmark::State& state) {
  const std::filesystem::path table = paraphrase_table_or_skip(state);
  if (table.empty()) return;
  const TokenizedCaptionSet& set = benchmark_set();
  sparsecap::eval::MeteorParaphraseTable::load(table);  // the index is cached, as after the first run
  time_metric(state, [&] {
    sparsecap::eval::ScoreOptions options;
    options.meteor_resources = sparsecap::eval::MeteorResources::load(SPARSECAP_DEFAULT_WORDNET_DIR, table);
    return sparsecap::eval::score_tokenized_captions(set, options).meteor().corpus;
  });
  state.counters["share_of_3s"] = state.counters["share_of_2s"] * 2.0 / 3.0;
}

void BM_EncodeSet(benchmark::State& state) {
  const TokenizedCaptionSet& set = benchmark_set();
  time_metric(state, [&] {
    sparsecap::eval::Vocabulary vocabulary;
    return sparsecap::eval::encode_caption_set(set, vocabulary).candidates.size();
  });
}

BENCHMARK(BM_EncodeSet)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_Bleu)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_Meteor)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_RougeL)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_CiderD)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_MeteorWordNetLoad)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_MeteorWithParaphrases)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_MeteorParaphraseTableParse)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_MeteorParaphraseIndexMap)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_ScoreAllMetricsWithParaphrases)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
