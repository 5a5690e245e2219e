// Greedy and beam-search decoding on hand-built toy models with fixed log-probability tables
// (where the best caption is known, and where greedy decoding misses it), against exhaustive
// search, batched against per image, and on a small Soft-Attention captioner.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "engine/ops.h"
#include "engine/rng.h"
#include "models/decoding.h"
#include "models/soft_attention.h"

namespace sparsecap::models {
namespace {

constexpr int64_t kPad = 0, kBos = 2, kEos = 3, kWordA = 4, kWordB = 5, kVocabulary = 6;
constexpr double kImpossible = -std::numeric_limits<double>::infinity();

using Prefix = std::vector<int64_t>;
using Distribution = std::vector<double>;  // probabilities over the vocabulary
// The next-token distribution of an image after a prefix of words.
using Table = std::function<Distribution(const Prefix&)>;

Distribution make_distribution(double eos, double a, double b) { return {0, 0, 0, eos, a, b}; }

// A captioner whose "images" are indices into a list of tables: image i of a batch is
// tables[images[i]]. The state of a row is its image and the words so far.
class ToyCaptioner : public StepwiseCaptioner {
 public:
  explicit ToyCaptioner(std::vector<Table> tables) : tables_(std::move(tables)) {}

  struct State : DecodingState {
    std::vector<int64_t> image;
    std::vector<Prefix> prefix;
    int64_t rows() const override { return static_cast<int64_t>(image.size()); }
    void select_rows(const Tensor& index) override {
      State selected;
      for (int64_t row : index.to_vector<int64_t>()) {
        selected.image.push_back(image.at(static_cast<size_t>(row)));
        selected.prefix.push_back(prefix.at(static_cast<size_t>(row)));
      }
      image = std::move(selected.image);
      prefix = std::move(selected.prefix);
    }
  };

  std::unique_ptr<DecodingState> encode(const CaptionerInputs& inputs) override {
    auto state = std::make_unique<State>();
    state->image = inputs.images.to_vector<int64_t>();
    state->prefix.resize(state->image.size());
    return state;
  }

  Tensor decode_step(DecodingState& base, const Tensor& tokens) override {
    auto& state = dynamic_cast<State&>(base);
    const std::vector<int64_t> previous = tokens.to_vector<int64_t>();
    std::vector<double> log_probabilities;
    for (size_t row = 0; row < previous.size(); ++row) {
      if (previous[row] != kBos) state.prefix[row].push_back(previous[row]);
      ++steps_;
      for (double p : tables_.at(static_cast<size_t>(state.image[row]))(state.prefix[row]))
        log_probabilities.push_back(p > 0 ? std::log(p) : kImpossible);
    }
    return from_vector(log_probabilities, {static_cast<int64_t>(previous.size()), kVocabulary});
  }

  int64_t vocabulary_size() const override { return kVocabulary; }
  SpecialTokens special_tokens() const override { return SpecialTokens{kPad, kBos, kEos}; }
  Device decoding_device() const override { return Device::cpu(); }
  int64_t rows_decoded() const { return steps_; }

 private:
  std::vector<Table> tables_;
  int64_t steps_ = 0;
};

// Greedy takes A (0.6), then A (0.4), then EOS (0.5): 0.12. The best caption is "B" (0.4 * 0.9 = 0.36).
Distribution greedy_trap(const Prefix& prefix) {
  static const std::map<Prefix, Distribution> table = {
      {{}, make_distribution(0.0, 0.6, 0.4)},
      {{kWordA}, make_distribution(0.3, 0.4, 0.3)},
      {{kWordB}, make_distribution(0.9, 0.05, 0.05)},
      {{kWordA, kWordA}, make_distribution(0.5, 0.25, 0.25)},
  };
  const auto found = table.find(prefix);
  return found != table.end() ? found->second : make_distribution(0.8, 0.1, 0.1);
}

// The best caption, "A B B" (0.6 * 0.35 * 0.9 * 0.95 ~ 0.18), starts with the second-best
// extension of the first word: greedy decoding drops it at step 2, a beam of 3 keeps it.
Distribution late_bloomer(const Prefix& prefix) {
  static const std::map<Prefix, Distribution> table = {
      {{}, make_distribution(0.0, 0.6, 0.4)},
      {{kWordA}, make_distribution(0.05, 0.6, 0.35)},
      {{kWordB}, make_distribution(0.1, 0.5, 0.4)},
      {{kWordA, kWordB}, make_distribution(0.05, 0.05, 0.9)},
      {{kWordA, kWordB, kWordB}, make_distribution(0.95, 0.03, 0.02)},
  };
  const auto found = table.find(prefix);
  return found != table.end() ? found->second : make_distribution(0.3, 0.35, 0.35);
}

// Never wants to stop.
Distribution chatterbox(const Prefix&) { return make_distribution(0.01, 0.9, 0.09); }

Tensor image_indices(std::vector<int64_t> indices) {
  const int64_t count = static_cast<int64_t>(indices.size());
  return from_vector(indices, {count});
}

// The best finished caption of at most max_words words by trying every sequence.
DecodedCaption exhaustive_best(const Table& table, int64_t max_words) {
  DecodedCaption best;
  best.log_probability = kImpossible;
  std::function<void(Prefix&, double)> visit = [&](Prefix& prefix, double score) {
    const Distribution next = table(prefix);
    const double finished = score + std::log(next[kEos]);
    if (next[kEos] > 0 && finished > best.log_probability) best = DecodedCaption{prefix, finished, true};
    if (static_cast<int64_t>(prefix.size()) == max_words) return;
    for (int64_t word : {kWordA, kWordB}) {
      if (next[static_cast<size_t>(word)] <= 0) continue;
      prefix.push_back(word);
      visit(prefix, score + std::log(next[static_cast<size_t>(word)]));
      prefix.pop_back();
    }
  };
  Prefix empty;
  visit(empty, 0.0);
  return best;
}

void expect_same_caption(const DecodedCaption& actual, const DecodedCaption& expected, double tolerance = 1e-12) {
  EXPECT_EQ(actual.tokens, expected.tokens);
  EXPECT_NEAR(actual.log_probability, expected.log_probability, tolerance);
  EXPECT_EQ(actual.finished, expected.finished);
}

// Every search test runs twice: with the bookkeeping on the host (what beam_search does on the
// CPU) and with the device bookkeeping of a GPU (beam_search_step), here on the CPU.
enum class Bookkeeping { Host, Device };

class Search : public ::testing::TestWithParam<Bookkeeping> {
 protected:
  std::vector<DecodedCaption> search_beam(StepwiseCaptioner& captioner, const Tensor& images, const DecodingOptions& options) {
    return GetParam() == Bookkeeping::Host ? beam_search_on_host(captioner, images, options)
                                           : beam_search_on_device(captioner, images, options);
  }
  // On a GPU greedy decoding is the device search with beam size 1.
  std::vector<DecodedCaption> search_greedy(StepwiseCaptioner& captioner, const Tensor& images, int64_t max_words) {
    return GetParam() == Bookkeeping::Host ? greedy_decode(captioner, images, max_words)
                                           : beam_search_on_device(captioner, images, {1, max_words});
  }
};

TEST_P(Search, GreedyFollowsTheMostLikelyToken) {
  ToyCaptioner toy({greedy_trap});
  const std::vector<DecodedCaption> captions = search_greedy(toy, image_indices({0}), 30);
  ASSERT_EQ(captions.size(), 1u);
  expect_same_caption(captions[0], DecodedCaption{{kWordA, kWordA}, std::log(0.6 * 0.4 * 0.5), true});
}

TEST_P(Search, FindsTheKnownBestCaptionGreedyMisses) {
  ToyCaptioner toy({greedy_trap});
  for (int64_t beam : {2, 3}) {
    const std::vector<DecodedCaption> captions = search_beam(toy, image_indices({0}), {beam, 30});
    expect_same_caption(captions[0], DecodedCaption{{kWordB}, std::log(0.4 * 0.9), true});
  }
}

TEST_P(Search, KeepsAHypothesisThatOnlyPaysOffLater) {
  ToyCaptioner toy({late_bloomer});
  const DecodedCaption best = exhaustive_best(late_bloomer, 6);
  EXPECT_EQ(best.tokens, (Prefix{kWordA, kWordB, kWordB}));
  EXPECT_NEAR(best.log_probability, std::log(0.6 * 0.35 * 0.9 * 0.95), 1e-12);
  expect_same_caption(search_beam(toy, image_indices({0}), {3, 6})[0], best);
  // Greedy goes A A A ... and never stops within 6 words.
  const DecodedCaption greedy = search_greedy(toy, image_indices({0}), 6)[0];
  EXPECT_EQ(greedy.tokens, Prefix(6, kWordA));
  EXPECT_FALSE(greedy.finished);
}

TEST_P(Search, BeamOneEqualsGreedy) {
  ToyCaptioner toy({greedy_trap, late_bloomer, chatterbox});
  const Tensor images = image_indices({0, 1, 2, 1});
  const std::vector<DecodedCaption> greedy = search_greedy(toy, images, 7);
  const std::vector<DecodedCaption> beam = search_beam(toy, images, {1, 7});
  ASSERT_EQ(greedy.size(), 4u);
  for (size_t i = 0; i < greedy.size(); ++i) expect_same_caption(beam[i], greedy[i]);
}

TEST_P(Search, WideBeamMatchesExhaustiveSearch) {
  // Random tables, at most 3 words: a beam wider than all candidates of a step (8 prefixes x 3
  // tokens) is exhaustive.
  Generator generator(99);
  std::map<Prefix, Distribution> random_table;
  const Table table = [&](const Prefix& prefix) {
    auto [it, inserted] = random_table.try_emplace(prefix);
    if (inserted) {
      const double eos = prefix.empty() ? 0.0 : generator.next_uniform(), a = generator.next_uniform(),
                   b = generator.next_uniform();
      it->second = make_distribution(eos / (eos + a + b), a / (eos + a + b), b / (eos + a + b));
    }
    return it->second;
  };
  const DecodedCaption best = exhaustive_best(table, 3);
  ToyCaptioner toy({table});
  expect_same_caption(search_beam(toy, image_indices({0}), {32, 3})[0], best);
}

TEST_P(Search, BatchedEqualsPerImage) {
  ToyCaptioner toy({greedy_trap, late_bloomer, chatterbox});
  const std::vector<int64_t> images = {2, 0, 1, 0};
  const std::vector<DecodedCaption> batched = search_beam(toy, image_indices(images), {3, 5});
  const std::vector<DecodedCaption> greedy_batched = search_greedy(toy, image_indices(images), 5);
  for (size_t i = 0; i < images.size(); ++i) {
    expect_same_caption(batched[i], search_beam(toy, image_indices({images[i]}), {3, 5})[0]);
    expect_same_caption(greedy_batched[i], search_greedy(toy, image_indices({images[i]}), 5)[0]);
  }
}

TEST_P(Search, CutsAtMaxWordsAndReportsUnfinished) {
  ToyCaptioner toy({chatterbox});
  const DecodedCaption greedy = search_greedy(toy, image_indices({0}), 4)[0];
  expect_same_caption(greedy, DecodedCaption{{kWordA, kWordA, kWordA, kWordA}, 4 * std::log(0.9), false});
  expect_same_caption(search_beam(toy, image_indices({0}), {1, 4})[0], greedy);
  // A beam of 3 takes EOS (third of A, B, EOS) at the first step; nothing later scores higher
  // without length normalisation, and a finished caption beats the cut ones.
  expect_same_caption(search_beam(toy, image_indices({0}), {3, 4})[0], DecodedCaption{{}, std::log(0.01), true});
}

TEST(BeamSearchOnHost, DropsFinishedImagesFromTheBatch) {
  // Image 0 says A then EOS; image 1 talks until the 20-word cut.
  ToyCaptioner toy({[](const Prefix& p) { return p.empty() ? make_distribution(0, 1, 0) : make_distribution(1, 0, 0); },
                    chatterbox});
  greedy_decode(toy, image_indices({0, 1}), 20);
  EXPECT_EQ(toy.rows_decoded(), 2 * 2 + 19);  // steps 0 and 1 for both, steps 2 .. 20 for image 1 alone
}

TEST_P(Search, RejectsBadOptions) {
  ToyCaptioner toy({chatterbox});
  EXPECT_THROW(search_beam(toy, image_indices({0}), {0, 5}), Error);
  EXPECT_THROW(search_greedy(toy, image_indices({0}), -1), Error);
}

TEST(BeamSearchOnDevice, StopsAtTheFirstDoneCheckAfterEveryImageIsDone) {
  // Both images say A then EOS: done after step 1; the search reads the done flags after step
  // kDoneCheckSteps - 1 and stops there, every image keeping its beam rows until then.
  const Table short_caption = [](const Prefix& p) { return p.empty() ? make_distribution(0, 1, 0) : make_distribution(1, 0, 0); };
  ToyCaptioner toy({short_caption});
  const std::vector<DecodedCaption> captions = beam_search_on_device(toy, image_indices({0, 0}), {3, 20});
  EXPECT_EQ(toy.rows_decoded(), 2 * 3 * kDoneCheckSteps);
  for (const DecodedCaption& caption : captions) expect_same_caption(caption, DecodedCaption{{kWordA}, 0.0, true});
}

TEST(BeamSearch, KeepsTheBookkeepingOnTheHostOnTheCpu) {
  // On the CPU beam_search keeps the bookkeeping on the host: the device search is the one that
  // keeps every image's beam rows to the end.
  ToyCaptioner host_toy({chatterbox}), device_toy({chatterbox});
  beam_search(host_toy, image_indices({0}), {3, 4});
  beam_search_on_device(device_toy, image_indices({0}), {3, 4});
  EXPECT_LT(host_toy.rows_decoded(), device_toy.rows_decoded());
}

INSTANTIATE_TEST_SUITE_P(Bookkeeping, Search, ::testing::Values(Bookkeeping::Host, Bookkeeping::Device),
                         [](const ::testing::TestParamInfo<Bookkeeping>& info) {
                           return info.param == Bookkeeping::Host ? "OnHost" : "OnDevice";
                         });

// ---- on a small Soft-Attention captioner ----

SoftAttentionConfig small_config() {
  SoftAttentionConfig config;
  config.encoder.width_multiplier = 0.25;
  config.encoder.blocks = {{64, 2}, {128, 2}};
  config.decoder.vocabulary_size = 12;
  config.decoder.hidden_size = 16;
  config.decoder.embedding_size = 8;
  config.decoder.attention_size = 8;
  return config;
}

TEST(SoftAttentionDecoding, BeamOneEqualsGreedyAndBatchedEqualsPerImage) {
  Generator generator(5);
  SoftAttentionCaptioner captioner(small_config(), generator);
  captioner.eval();
  const Tensor images = randn({3, 3, 32, 32}, generator);
  const std::vector<DecodedCaption> greedy = greedy_decode(captioner, images, 8);
  const std::vector<DecodedCaption> beam_one = beam_search(captioner, images, {1, 8});
  const std::vector<DecodedCaption> beam_three = beam_search(captioner, images, {3, 8});
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(beam_one[i].tokens, greedy[i].tokens) << i;
    EXPECT_NEAR(beam_one[i].log_probability, greedy[i].log_probability, 1e-5) << i;
    const Tensor single = images.narrow_rows(static_cast<int64_t>(i), 1);
    const DecodedCaption alone = beam_search(captioner, single, {3, 8})[0];
    EXPECT_EQ(alone.tokens, beam_three[i].tokens) << i;
    EXPECT_NEAR(alone.log_probability, beam_three[i].log_probability, 1e-4) << i;
  }
}

TEST(SoftAttentionDecoding, DeviceBookkeepingGivesTheHostsCaptions) {
  Generator generator(6);
  SoftAttentionCaptioner captioner(small_config(), generator);
  captioner.eval();
  const Tensor images = randn({4, 3, 32, 32}, generator);
  for (const int64_t beam : {1, 3}) {
    const std::vector<DecodedCaption> host = beam_search_on_host(captioner, images, {beam, 8});
    const std::vector<DecodedCaption> device = beam_search_on_device(captioner, images, {beam, 8});
    for (size_t i = 0; i < host.size(); ++i) {
      EXPECT_EQ(device[i].tokens, host[i].tokens) << "beam " << beam << ", image " << i;
      EXPECT_NEAR(device[i].log_probability, host[i].log_probability, 1e-4) << "beam " << beam << ", image " << i;
      EXPECT_EQ(device[i].finished, host[i].finished) << "beam " << beam << ", image " << i;
    }
  }
}

}  // namespace
}  // namespace sparsecap::models
