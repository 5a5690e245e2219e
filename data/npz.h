#pragma once
// NumPy .npz archives (np.savez / np.savez_compressed): a zip file with one .npy per named array.
// Members may be stored or deflated; ZIP64 records (which NumPy writes) are understood. Every member
// is checked against its CRC-32, so a corrupt archive is an error and not silently wrong features.
#include <filesystem>
#include <map>
#include <span>
#include <string>

#include "data/npy.h"

namespace sparsecap::data {

// Arrays by name, without the ".npy" suffix: np.savez(f, feat=x) gives {"feat": x}.
using NamedArrays = std::map<std::string, FloatArray>;

NamedArrays parse_npz(std::span<const uint8_t> bytes, const std::string& name);
NamedArrays read_npz_file(const std::filesystem::path& path);

}  // namespace sparsecap::data
