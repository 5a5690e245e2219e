#pragma once
// shapes_scenes.json, the file beside a synthetic shapes set that says what each picture holds:
//   {"seed": S, "image_size": N, "caption_grammar": G, "scenes": [{"imgid": i, "objects": [{"shape", "color", "size",
//    "center": [x, y], "radius", "box": [x0, y0, x1, y1]}, ...], "regions": [{"box", "object"}]}]}
// with canonical words for shape, colour and size. The generator writes it; the grounded scores
// read it back.
#include <cstdint>
#include <filesystem>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/shapes_scene.h"

namespace sparsecap::data {

inline constexpr const char* kShapesScenesFile = "shapes_scenes.json";

// One entry of "scenes".
nlohmann::json scene_record(int64_t imgid, const Scene& scene, const std::vector<Region>& regions);

// The scenes by imgid, objects with shape, colour, size, centre, radius and extent (the image size
// from "image_size"). DataError naming the file for a missing file, bad JSON or an unknown word.
std::map<int64_t, Scene> read_shapes_scenes(const std::filesystem::path& path);

// The "caption_grammar" the set was written with (kShapesCaptionGrammar in data/synthetic_shapes.h),
// 1 when the file has none. DataError naming the file when it is missing or not JSON.
int read_shapes_caption_grammar(const std::filesystem::path& path);

}  // namespace sparsecap::data
