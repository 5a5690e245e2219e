#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "data/prefetch.h"

namespace sparsecap::data {
namespace {

TEST(Prefetcher, DeliversEveryItemInOrderThenEnds) {
  int next = 0;
  Prefetcher<int> prefetcher([&]() -> std::optional<int> {
    if (next == 50) return std::nullopt;
    return next++;
  }, 3);
  for (int expected = 0; expected < 50; ++expected) {
    const auto item = prefetcher.next();
    ASSERT_TRUE(item.has_value());
    EXPECT_EQ(*item, expected);
  }
  EXPECT_FALSE(prefetcher.next().has_value());
  EXPECT_FALSE(prefetcher.next().has_value());
}

TEST(Prefetcher, RunsAheadByAtMostItsDepth) {
  std::atomic<int> produced{0};
  Prefetcher<int> prefetcher([&]() -> std::optional<int> { return produced++; }, 2);
  for (int wait = 0; wait < 1000 && produced < 2; ++wait) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // time to run further ahead, if it wrongly would
  // Two items wait in the queue and the producer may have started a third before blocking.
  EXPECT_GE(produced.load(), 2);
  EXPECT_LE(produced.load(), 3);
  EXPECT_EQ(prefetcher.next(), 0);
  // Destruction with a producer that never ends must not hang.
}

TEST(Prefetcher, RethrowsTheProducersErrorAfterTheItemsBeforeIt) {
  int next = 0;
  Prefetcher<int> prefetcher([&]() -> std::optional<int> {
    if (next == 2) throw std::runtime_error("cocobu_att/7.npy: truncated");
    return next++;
  });
  EXPECT_EQ(prefetcher.next(), 0);
  EXPECT_EQ(prefetcher.next(), 1);
  try {
    prefetcher.next();
    ADD_FAILURE();
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(), "cocobu_att/7.npy: truncated");
  }
  EXPECT_FALSE(prefetcher.next().has_value());
}

TEST(Prefetcher, RejectsZeroDepth) {
  EXPECT_THROW(Prefetcher<int>([]() -> std::optional<int> { return std::nullopt; }, 0), std::invalid_argument);
}

}  // namespace
}  // namespace sparsecap::data
