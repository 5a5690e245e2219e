// The Zhu & Gupta schedule against its closed form at chosen steps, and where its updates fall.
#include <gtest/gtest.h>

#include "pruning/sparsity_schedule.h"

namespace sparsecap::pruning {
namespace {

TEST(ZhuGuptaSchedule, CubicValuesAtChosenSteps) {
  // t0 = 100, Δ = 10, T = 1000: n = ⌊(500 − 100) / 10⌋ = 40, tn = 500.
  const PolynomialSparsitySchedule schedule = zhu_gupta_schedule(0.0, 0.9, 100, 10, 0.5, 3.0, 1000);
  EXPECT_EQ(schedule.end_step, 500);
  EXPECT_NEAR(schedule.value(1), 0.0, 1e-12);
  EXPECT_NEAR(schedule.value(99), 0.0, 1e-12);
  EXPECT_NEAR(schedule.value(100), 0.0, 1e-12);
  EXPECT_NEAR(schedule.value(200), 0.9 * (1 - 0.75 * 0.75 * 0.75), 1e-12);  // p = 1/4
  EXPECT_NEAR(schedule.value(300), 0.9 - 0.9 * 0.125, 1e-12);                // p = 1/2
  EXPECT_NEAR(schedule.value(500), 0.9, 1e-12);
  EXPECT_NEAR(schedule.value(1000), 0.9, 1e-12);
}

TEST(ZhuGuptaSchedule, UpdatesEveryDeltaFromStartToEnd) {
  const PolynomialSparsitySchedule schedule = zhu_gupta_schedule(0.0, 0.9, 100, 10, 0.5, 3.0, 1000);
  EXPECT_FALSE(schedule.is_update_step(90));
  EXPECT_TRUE(schedule.is_update_step(100));
  EXPECT_FALSE(schedule.is_update_step(105));
  EXPECT_TRUE(schedule.is_update_step(110));
  EXPECT_TRUE(schedule.is_update_step(500));
  EXPECT_FALSE(schedule.is_update_step(510));
}

TEST(ZhuGuptaSchedule, TheReferenceSpacingOfAThousandSteps) {
  // t0 = one epoch of 1500 steps, T = 10000: n = ⌊(5000 − 1500) / 1000⌋ = 3, tn = 4500.
  const PolynomialSparsitySchedule schedule = zhu_gupta_schedule(0.0, 0.8, 1500, 1000, 0.5, 3.0, 10000);
  EXPECT_EQ(schedule.end_step, 4500);
  EXPECT_NEAR(schedule.value(2500), 0.8 * (1 - 8.0 / 27.0), 1e-12);  // p = 1/3
  EXPECT_NEAR(schedule.value(3500), 0.8 * (1 - 1.0 / 27.0), 1e-12);  // p = 2/3
}

TEST(ZhuGuptaSchedule, PolynomialExponentAndInitialSparsity) {
  const PolynomialSparsitySchedule linear = zhu_gupta_schedule(0.2, 0.9, 100, 10, 0.5, 1.0, 1000);
  EXPECT_NEAR(linear.value(50), 0.2, 1e-12);
  EXPECT_NEAR(linear.value(300), 0.9 + (0.2 - 0.9) * 0.5, 1e-12);
  const PolynomialSparsitySchedule quadratic = zhu_gupta_schedule(0.0, 0.9, 100, 10, 0.5, 2.0, 1000);
  EXPECT_NEAR(quadratic.value(300), 0.9 - 0.9 * 0.25, 1e-12);
}

TEST(ZhuGuptaSchedule, AStartPastHalfOfTheRunJumpsToTheTargetThere) {
  const PolynomialSparsitySchedule schedule = zhu_gupta_schedule(0.0, 0.9, 8, 1000, 0.5, 3.0, 10);
  EXPECT_EQ(schedule.end_step, 8);
  EXPECT_NEAR(schedule.value(7), 0.0, 1e-12);
  EXPECT_NEAR(schedule.value(8), 0.9, 1e-12);
  EXPECT_TRUE(schedule.is_update_step(8));
  EXPECT_FALSE(schedule.is_update_step(9));
}

}  // namespace
}  // namespace sparsecap::pruning
