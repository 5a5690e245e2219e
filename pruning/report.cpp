#include "pruning/report.h"

#include <cmath>
#include <cstdio>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace sparsecap::pruning {

void SparsityReport::add(LayerSparsity layer) {
  kept += layer.kept;
  total += layer.total;
  layers.push_back(std::move(layer));
}

SparsityReport weight_sparsity(const std::vector<nn::ParameterPtr>& weights) {
  NoGradGuard no_grad;
  SparsityReport report;
  for (const nn::ParameterPtr& parameter : weights) {
    const Tensor& w = parameter->value();
    const int64_t nonzero = std::llround(sum(greater_than(abs(w), 0.0)).item());
    report.add(LayerSparsity{parameter->name(), w.shape(), nonzero, w.numel()});
  }
  return report;
}

std::string format_sparsity_table(const SparsityReport& report) {
  size_t width = 5;
  for (const LayerSparsity& layer : report.layers) width = std::max(width, layer.name.size());
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-14s %12s %12s %9s\n", static_cast<int>(width), "layer", "shape", "kept",
                "total", "sparsity");
  out += line;
  for (const LayerSparsity& layer : report.layers) {
    std::snprintf(line, sizeof line, "%-*s  %-14s %12lld %12lld %8.2f%%\n", static_cast<int>(width),
                  layer.name.c_str(), shape_str(layer.shape).c_str(), static_cast<long long>(layer.kept),
                  static_cast<long long>(layer.total), 100.0 * layer.sparsity());
    out += line;
  }
  std::snprintf(line, sizeof line, "%-*s  %-14s %12lld %12lld %8.2f%%\n", static_cast<int>(width), "overall", "",
                static_cast<long long>(report.kept), static_cast<long long>(report.total), 100.0 * report.sparsity());
  return out + line;
}

}  // namespace sparsecap::pruning
