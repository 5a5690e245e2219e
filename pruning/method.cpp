#include "pruning/method.h"

namespace sparsecap::pruning {

bool is_prunable(const nn::Parameter& parameter) {
  return parameter.kind() == nn::ParameterKind::Weight || parameter.kind() == nn::ParameterKind::Embedding;
}

}  // namespace sparsecap::pruning
