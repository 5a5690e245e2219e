#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sparsecap {

// Compute happens in F32 (F64 on CPU for gradient checks); F16, integer and bool types are for
// storage (indices, masks, exported weights).
enum class DType : uint8_t { F16, F32, F64, I32, I64, U8, U16, Bool };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", ...
bool is_floating(DType dtype);

// The C++ type behind a dtype, for data<T>() checks.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::U16; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

// IEEE half conversion on the host (round to nearest even), for F16 storage.
uint16_t float_to_half(float value);
float half_to_float(uint16_t bits);

}  // namespace sparsecap
