// Beam search and greedy decoding of a captioner whose log-probabilities live on a CUDA device:
// the search keeps its bookkeeping there (top_k and the beam_search_step kernel) and gives the
// captions, scores and endings of the host search over the same log-probabilities on the CPU.
// Built twice: against the real CUDA backend (test_decoding_on_cuda, skips without a GPU) and
// against the emulated one (test_decoding_emulated), where our kernels run on the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_runtime_info.h"
#include "engine/ops.h"
#include "models/decoding.h"

namespace sparsecap::models {
namespace {

constexpr int64_t kBos = 2, kEos = 3, kVocabulary = 9;

// Log-probabilities that depend on the image and every word so far (a hash seeds them), float32
// as a model's, made on the host and then moved to `device`. Tokens and row indices are read
// back to the host whatever their device, so the search may hand over either.
class HashedCaptioner : public StepwiseCaptioner {
 public:
  explicit HashedCaptioner(Device device) : device_(device) {}

  struct State : DecodingState {
    std::vector<std::vector<int64_t>> prefix;  // per row: the image, then the words
    int64_t rows() const override { return static_cast<int64_t>(prefix.size()); }
    void select_rows(const Tensor& index) override {
      std::vector<std::vector<int64_t>> selected;
      for (int64_t row : index.to(Device::cpu()).to_vector<int64_t>()) selected.push_back(prefix.at(static_cast<size_t>(row)));
      prefix = std::move(selected);
    }
  };

  std::unique_ptr<DecodingState> encode(const CaptionerInputs& inputs) override {
    auto state = std::make_unique<State>();
    for (int64_t image : inputs.images.to_vector<int64_t>()) state->prefix.push_back({image});
    return state;
  }

  Tensor decode_step(DecodingState& base, const Tensor& tokens) override {
    auto& state = dynamic_cast<State&>(base);
    const std::vector<int64_t> previous = tokens.to(Device::cpu()).to_vector<int64_t>();
    std::vector<float> log_probabilities;
    for (size_t row = 0; row < previous.size(); ++row) {
      if (previous[row] != kBos) state.prefix[row].push_back(previous[row]);
      append_log_probabilities(state.prefix[row], log_probabilities);
    }
    return from_vector(log_probabilities, {static_cast<int64_t>(previous.size()), kVocabulary}).to(device_);
  }

  int64_t vocabulary_size() const override { return kVocabulary; }
  SpecialTokens special_tokens() const override { return SpecialTokens{0, kBos, kEos}; }
  Device decoding_device() const override { return device_; }

 private:
  // PAD and BOS never come; EOS grows likelier with every word, so captions end at various lengths.
  static void append_log_probabilities(const std::vector<int64_t>& prefix, std::vector<float>& out) {
    uint64_t hash = 1469598103934665603ull;
    for (int64_t value : prefix) hash = (hash ^ static_cast<uint64_t>(value)) * 1099511628211ull;
    std::mt19937_64 generator(hash);
    std::uniform_real_distribution<double> logit(-2.0, 2.0);
    std::vector<double> logits(static_cast<size_t>(kVocabulary));
    for (double& l : logits) l = logit(generator);
    logits[0] = logits[kBos] = -1e30;
    logits[kEos] += 0.6 * static_cast<double>(prefix.size()) - 2.0;
    double normaliser = 0;
    for (double l : logits) normaliser += std::exp(l);
    for (double l : logits) out.push_back(static_cast<float>(l - std::log(normaliser)));
  }

  Device device_;
};

bool have_cuda_device() { return cuda::built_with_cuda() && !cuda::devices().empty(); }

Tensor image_indices(int64_t count) {
  std::vector<int64_t> images(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) images[static_cast<size_t>(i)] = 100 + i;
  return from_vector(images, {count});
}

void expect_same_captions(const std::vector<DecodedCaption>& on_device, const std::vector<DecodedCaption>& on_host,
                          const std::string& what) {
  ASSERT_EQ(on_device.size(), on_host.size()) << what;
  for (size_t i = 0; i < on_host.size(); ++i) {
    EXPECT_EQ(on_device[i].tokens, on_host[i].tokens) << what << ", image " << i;
    // The same float log-probabilities summed in double in the same order: the same bits.
    EXPECT_EQ(on_device[i].log_probability, on_host[i].log_probability) << what << ", image " << i;
    EXPECT_EQ(on_device[i].finished, on_host[i].finished) << what << ", image " << i;
  }
}

TEST(DecodingOnCuda, BeamSearchKeepsItsBookkeepingOnTheDeviceAndMatchesTheHost) {
  if (!have_cuda_device()) GTEST_SKIP() << "no CUDA device";
  HashedCaptioner on_cuda(Device::cuda(0)), on_cpu(Device::cpu());
  // Few images and steps: on the emulated device every launch runs its threads on the CPU.
  const Tensor images = image_indices(9);
  int finished = 0, cut = 0;
  for (const auto& [beam, max_words] : {std::pair<int64_t, int64_t>{3, 7}, {2, 0}, {5, 2}}) {
    const DecodingOptions options{.beam_size = beam, .max_words = max_words};
    const std::vector<DecodedCaption> device = beam_search(on_cuda, images, options);
    expect_same_captions(device, beam_search_on_host(on_cpu, images, options),
                         "beam " + std::to_string(beam) + ", max_words " + std::to_string(max_words));
    for (const DecodedCaption& caption : device) (caption.finished ? finished : cut) += 1;
  }
  EXPECT_GT(finished, 0);
  EXPECT_GT(cut, 0);
}

TEST(DecodingOnCuda, GreedyDecodingOnTheDeviceMatchesTheHost) {
  if (!have_cuda_device()) GTEST_SKIP() << "no CUDA device";
  HashedCaptioner on_cuda(Device::cuda(0)), on_cpu(Device::cpu());
  const Tensor images = image_indices(9);
  for (const int64_t max_words : {0, 7})
    expect_same_captions(greedy_decode(on_cuda, images, max_words), greedy_decode(on_cpu, images, max_words),
                         "greedy, max_words " + std::to_string(max_words));
}

}  // namespace
}  // namespace sparsecap::models
