#include "eval/coco_results.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "engine/json_input.h"

namespace sparsecap::eval {
namespace {

// Size and depth limits; nlohmann rejects ill-formed UTF-8 inside strings with a parse error,
// reported as "<file>: not valid JSON (or not UTF-8): ...".
nlohmann::json parse_json_file(const std::filesystem::path& path) { return read_json_file(path); }

const nlohmann::json& require_array(const nlohmann::json& value, const char* what, const std::filesystem::path& path) {
  if (!value.is_array())
    throw std::runtime_error(path.string() + ": " + what + " must be a list, got " + value.type_name() + " " +
                             json_excerpt(value, 60));
  return value;
}

std::string image_id_string(const nlohmann::json& id, const std::filesystem::path& path) {
  if (id.is_number_integer()) return std::to_string(id.get<long long>());
  if (id.is_string()) return id.get<std::string>();
  throw std::runtime_error(path.string() + ": image id " + json_excerpt(id, 60) + " is neither an integer nor a string");
}

std::string caption_string(const nlohmann::json& caption, const std::string& id, const std::filesystem::path& path) {
  if (!caption.is_string()) {
    throw std::runtime_error(path.string() + ": caption of image " + id + " is not a string: " + json_excerpt(caption, 60));
  }
  return caption.get<std::string>();
}

ReferenceCaptions references_from_annotations(const nlohmann::json& annotations, const std::filesystem::path& path) {
  ReferenceCaptions references;
  for (const nlohmann::json& annotation : require_array(annotations, "\"annotations\"", path)) {
    if (!annotation.is_object() || !annotation.contains("image_id") || !annotation.contains("caption")) {
      throw std::runtime_error(path.string() + ": annotation without image_id or caption: " + json_excerpt(annotation));
    }
    const std::string id = image_id_string(annotation["image_id"], path);
    references[id].push_back(caption_string(annotation["caption"], id, path));
  }
  return references;
}

std::string karpathy_image_id(const nlohmann::json& image, const std::filesystem::path& path) {
  for (const char* key : {"cocoid", "imgid", "id"}) {
    if (image.contains(key)) return image_id_string(image[key], path);
  }
  throw std::runtime_error(path.string() + ": image without cocoid, imgid or id: " + json_excerpt(image));
}

std::string karpathy_sentence(const nlohmann::json& sentence, const std::string& id, const std::filesystem::path& path) {
  if (!sentence.is_object())
    throw std::runtime_error(path.string() + ": sentence of image " + id + " is not an object: " + json_excerpt(sentence, 60));
  if (sentence.contains("raw")) return caption_string(sentence["raw"], id, path);
  if (sentence.contains("tokens") && sentence["tokens"].is_array()) {
    std::string joined;
    for (const nlohmann::json& token : sentence["tokens"]) {
      if (!joined.empty()) joined.push_back(' ');
      joined += caption_string(token, id, path);
    }
    return joined;
  }
  throw std::runtime_error(path.string() + ": sentence of image " + id + " has neither raw nor tokens");
}

ReferenceCaptions references_from_karpathy(const nlohmann::json& images, std::string_view split,
                                           const std::filesystem::path& path) {
  ReferenceCaptions references;
  for (const nlohmann::json& image : require_array(images, "\"images\"", path)) {
    if (!image.is_object())
      throw std::runtime_error(path.string() + ": entry of \"images\" is not an object: " + json_excerpt(image, 60));
    if (!image.contains("split")) continue;
    if (!image["split"].is_string())
      throw std::runtime_error(path.string() + ": image " + karpathy_image_id(image, path) + ": \"split\" is not a string");
    if (image["split"].get<std::string>() != split) continue;
    const std::string id = karpathy_image_id(image, path);
    if (references.contains(id)) throw std::runtime_error(path.string() + ": duplicate image id " + id);
    std::vector<std::string>& captions = references[id];
    const nlohmann::json& sentences = image.contains("sentences") ? image["sentences"] : nlohmann::json::array();
    for (const nlohmann::json& sentence : require_array(sentences, "\"sentences\"", path)) {
      captions.push_back(karpathy_sentence(sentence, id, path));
    }
  }
  if (references.empty()) throw std::runtime_error(path.string() + ": no images in split \"" + std::string(split) + "\"");
  return references;
}

}  // namespace

ReferenceCaptions read_reference_captions(const std::filesystem::path& path, std::string_view split) {
  const nlohmann::json json = parse_json_file(path);
  if (json.is_object() && json.contains("annotations")) return references_from_annotations(json["annotations"], path);
  if (json.is_object() && json.contains("images")) return references_from_karpathy(json["images"], split, path);
  if (json.is_object() && json.contains("refs") && json["refs"].is_object()) {
    ReferenceCaptions references;
    for (const auto& [id, captions] : json["refs"].items()) {
      for (const nlohmann::json& caption : require_array(captions, "reference list", path)) references[id].push_back(caption_string(caption, id, path));
    }
    return references;
  }
  throw std::runtime_error(path.string() +
                           ": not a reference file (expected \"annotations\", \"images\" or \"refs\" at top level)");
}

CandidateCaptions read_candidate_captions(const std::filesystem::path& path) {
  const nlohmann::json json = parse_json_file(path);
  CandidateCaptions candidates;
  if (json.is_object() && json.contains("cands") && json["cands"].is_object()) {
    for (const auto& [id, caption] : json["cands"].items()) candidates[id] = caption_string(caption, id, path);
    return candidates;
  }
  if (!json.is_array()) {
    throw std::runtime_error(path.string() + ": not a COCO results file (expected [{\"image_id\", \"caption\"}, ...])");
  }
  for (const nlohmann::json& result : json) {
    if (!result.is_object() || !result.contains("image_id") || !result.contains("caption")) {
      throw std::runtime_error(path.string() + ": result without image_id or caption: " + json_excerpt(result));
    }
    const std::string id = image_id_string(result["image_id"], path);
    if (candidates.contains(id)) throw std::runtime_error(path.string() + ": duplicate image_id " + id);
    candidates[id] = caption_string(result["caption"], id, path);
  }
  return candidates;
}

void write_coco_results(const CandidateCaptions& candidates, const std::filesystem::path& path) {
  nlohmann::json results = nlohmann::json::array();
  for (const auto& [id, caption] : candidates) {
    const bool numeric = !id.empty() && id.size() < 19 && id.find_first_not_of("0123456789") == std::string::npos;
    nlohmann::json entry;
    if (numeric) {
      entry["image_id"] = std::stoll(id);
    } else {
      entry["image_id"] = id;
    }
    entry["caption"] = caption;
    results.push_back(std::move(entry));
  }
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary);
    if (!out) throw std::runtime_error("cannot write " + temporary.string());
    out << results.dump();
    if (!out) throw std::runtime_error("failed writing " + temporary.string());
  }
  std::filesystem::rename(temporary, path);
}

}  // namespace sparsecap::eval
