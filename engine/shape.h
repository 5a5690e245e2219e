#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sparsecap {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[32, 512]"
// Normalises a possibly negative dimension index against `rank`; throws when out of range.
int64_t wrap_dim(int64_t dim, int64_t rank);
// The NumPy broadcast of two shapes; throws naming both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace sparsecap
