#pragma once
// Dense training: the method "none". It attaches nothing; its sparsity is that of the weights.
#include "pruning/method.h"

namespace sparsecap::pruning {

class NoPruning : public PruningMethod {
 public:
  std::string name() const override { return "none"; }
  void attach(const std::vector<nn::ParameterPtr>& weights) override { weights_ = weights; }
  void finalize() override {}
  SparsityReport sparsity() const override { return weight_sparsity(weights_); }

 private:
  std::vector<nn::ParameterPtr> weights_;
};

}  // namespace sparsecap::pruning
