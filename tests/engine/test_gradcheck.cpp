// Every differentiable op in the op table against central finite differences in float64.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "engine/testing/op_table.h"
#include "tests/engine/gradcheck.h"

namespace sparsecap::testing {
namespace {

class Gradcheck : public ::testing::TestWithParam<size_t> {};

TEST_P(Gradcheck, MatchesFiniteDifferences) {
  const OpCase& op = op_table()[GetParam()];
  std::vector<bool> differentiable;
  for (const InputSpec& spec : op.inputs) differentiable.push_back(spec.differentiable());
  const GradcheckResult result = gradcheck(op.run, make_inputs(op, 42, DType::F64), differentiable);
  EXPECT_LT(result.max_relative_error, 1e-6) << op.name << ": " << result.worst;
}

INSTANTIATE_TEST_SUITE_P(OpTable, Gradcheck, ::testing::Range<size_t>(0, op_table().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return op_table()[info.param].name; });

// The checker itself must catch a wrong gradient: a deliberately broken backward.
TEST(GradcheckSelfTest, DetectsAWrongGradient) {
  auto broken_square = [](const std::vector<Tensor>& x) {
    // Forward x*x, but the graph only sees x * detach(x): gradient x instead of 2x.
    return mul(x[0], x[0].detach());
  };
  const Tensor x = from_vector<double>({0.5, -1.0, 2.0}, {3});
  EXPECT_GT(gradcheck(broken_square, {x}, {true}).max_relative_error, 0.1);
}

}  // namespace
}  // namespace sparsecap::testing
