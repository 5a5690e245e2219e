#include "data/shapes_scene_file.h"

#include <string>

#include "data/data_error.h"
#include "engine/json_input.h"
#include "data/file_io.h"
#include "data/shapes_caption_parser.h"
#include "data/shapes_words.h"

namespace sparsecap::data {

namespace {

nlohmann::json box_to_json(const PixelBox& box) { return {box.x0, box.y0, box.x1, box.y1}; }

PixelBox box_from_json(const nlohmann::json& json) {
  return {json.at(0).get<float>(), json.at(1).get<float>(), json.at(2).get<float>(), json.at(3).get<float>()};
}

// A canonical word back to its value; `lookup` is one of the caption parser's word lookups.
template <typename Lookup>
auto word_value(const nlohmann::json& object, const char* key, Lookup lookup, const std::string& where) {
  const std::string word = object.at(key).get<std::string>();
  const auto value = lookup(word);
  if (!value) throw std::invalid_argument(where + ": unknown " + key + " \"" + word + "\"");
  return *value;
}

// The file as JSON; DataError naming it when it is missing, too deeply nested or not JSON.
nlohmann::json read_json_document(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  check_json_depth(text, path.string());
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path.string(), json_error_text(e));
  }
}

}  // namespace

nlohmann::json scene_record(int64_t imgid, const Scene& scene, const std::vector<Region>& regions) {
  nlohmann::json objects = nlohmann::json::array(), region_list = nlohmann::json::array();
  for (const SceneObject& object : scene.objects)
    objects.push_back({{"shape", shape_words(object.shape).front()},
                       {"color", color_words(object.color).front()},
                       {"size", size_words(object.size).front()},
                       {"center", {object.center_x, object.center_y}},
                       {"radius", object.radius},
                       {"box", box_to_json(object.extent)}});
  for (const Region& region : regions)
    region_list.push_back({{"box", box_to_json(region.box)}, {"object", region.object_index}});
  return {{"imgid", imgid}, {"objects", std::move(objects)}, {"regions", std::move(region_list)}};
}

std::map<int64_t, Scene> read_shapes_scenes(const std::filesystem::path& path) {
  const nlohmann::json document = read_json_document(path);
  std::map<int64_t, Scene> scenes;
  try {
    const int image_size = document.at("image_size").get<int>();
    for (const nlohmann::json& record : document.at("scenes")) {
      const int64_t imgid = record.at("imgid").get<int64_t>();
      const std::string where = "scene of imgid " + std::to_string(imgid);
      Scene scene;
      scene.width = scene.height = image_size;
      for (const nlohmann::json& entry : record.at("objects")) {
        SceneObject object;
        object.shape = word_value(entry, "shape", shape_of_word, where);
        object.color = word_value(entry, "color", color_of_word, where);
        object.size = word_value(entry, "size", size_of_word, where);
        object.center_x = entry.at("center").at(0).get<float>();
        object.center_y = entry.at("center").at(1).get<float>();
        object.radius = entry.at("radius").get<float>();
        object.extent = box_from_json(entry.at("box"));
        scene.objects.push_back(object);
      }
      scenes[imgid] = std::move(scene);
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path.string(), json_error_text(e));
  } catch (const std::exception& e) {
    throw DataError(path.string(), e.what());
  }
  return scenes;
}

int read_shapes_caption_grammar(const std::filesystem::path& path) {
  const nlohmann::json document = read_json_document(path);
  try {
    return document.contains("caption_grammar") ? document.at("caption_grammar").get<int>() : 1;
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path.string(), json_error_text(e));
  }
}

}  // namespace sparsecap::data
