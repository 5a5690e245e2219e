#include "tests/engine/gradcheck.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace sparsecap::testing {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          const std::vector<bool>& differentiable, double step) {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (differentiable[i]) inputs[i] = inputs[i].detach().clone().set_requires_grad(true);
  Tensor out = f(inputs);
  Generator generator(12345);
  const Tensor weights = randn(out.shape(), generator, DType::F64);
  auto objective = [&](const std::vector<Tensor>& x) {
    NoGradGuard no_grad;
    return sum(mul(f(x), weights)).item();
  };
  sum(mul(out, weights)).backward();

  GradcheckResult result;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!differentiable[i]) continue;
    const std::vector<double> analytic = inputs[i].grad().defined()
                                             ? inputs[i].grad().to_vector<double>()
                                             : std::vector<double>(static_cast<size_t>(inputs[i].numel()), 0.0);
    double* values = inputs[i].data<double>();
    for (int64_t e = 0; e < inputs[i].numel(); ++e) {
      const double saved = values[e];
      values[e] = saved + step;
      const double plus = objective(inputs);
      values[e] = saved - step;
      const double minus = objective(inputs);
      values[e] = saved;
      const double numeric = (plus - minus) / (2 * step);
      const double error = std::abs(analytic[static_cast<size_t>(e)] - numeric) / std::max(1.0, std::abs(numeric));
      if (error > result.max_relative_error || std::isnan(error)) {
        result.max_relative_error = std::isnan(error) ? INFINITY : error;
        std::ostringstream worst;
        worst << "input " << i << " element " << e << ": analytic " << analytic[static_cast<size_t>(e)]
              << ", numeric " << numeric;
        result.worst = worst.str();
      }
    }
  }
  return result;
}

}  // namespace sparsecap::testing
