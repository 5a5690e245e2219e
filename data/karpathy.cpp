#include "data/karpathy.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "data/data_error.h"
#include "engine/json_input.h"
#include "data/file_io.h"
#include "data/tokenize.h"

namespace sparsecap::data {

namespace {

std::string entry_label(size_t index, const nlohmann::json& image) {
  std::string label = "images[" + std::to_string(index) + "]";
  if (image.is_object() && image.contains("imgid")) label += " (imgid " + image["imgid"].dump() + ")";
  return label;
}

Sentence parse_sentence(const nlohmann::json& sentence, const std::string& name, const std::string& where) {
  if (!sentence.is_object()) throw DataError(name, where + ": a sentence must be an object, got " + sentence.dump());
  Sentence parsed;
  if (sentence.contains("raw")) {
    if (!sentence["raw"].is_string()) throw DataError(name, where + ": \"raw\" must be a string");
    parsed.raw = sentence["raw"].get<std::string>();
  }
  if (sentence.contains("tokens")) {
    const auto& tokens = sentence["tokens"];
    if (!tokens.is_array()) throw DataError(name, where + ": \"tokens\" must be an array of strings");
    for (const auto& token : tokens) {
      if (!token.is_string()) throw DataError(name, where + ": non-string token " + token.dump());
      parsed.tokens.push_back(token.get<std::string>());
    }
  } else if (sentence.contains("raw")) {
    parsed.tokens = tokenize_caption(parsed.raw);  // files written by hand often carry only "raw"
  } else {
    throw DataError(name, where + ": a sentence needs \"tokens\" or \"raw\"");
  }
  return parsed;
}

std::optional<int> parse_optional_size(const nlohmann::json& image, const char* key, const std::string& name,
                                       const std::string& where) {
  if (!image.contains(key)) return std::nullopt;
  const auto& value = image[key];
  if (!value.is_number_integer() || value.get<int64_t>() <= 0)
    throw DataError(name, where + ": \"" + key + "\" must be a positive integer, got " + value.dump());
  return value.get<int>();
}

KarpathyImage parse_image(const nlohmann::json& image, size_t index, const std::string& name,
                          const KarpathyLoadOptions& options) {
  const std::string where = entry_label(index, image);
  if (!image.is_object()) throw DataError(name, where + ": must be an object, got " + image.dump());
  KarpathyImage parsed;

  if (!image.contains("filename") || !image["filename"].is_string() || image["filename"].get<std::string>().empty())
    throw DataError(name, where + ": missing or empty string \"filename\"");
  parsed.filename = image["filename"].get<std::string>();
  if (image.contains("filepath")) {
    if (!image["filepath"].is_string()) throw DataError(name, where + ": \"filepath\" must be a string");
    parsed.filepath = image["filepath"].get<std::string>();
  }

  if (!image.contains("split") || !image["split"].is_string())
    throw DataError(name, where + ": missing string \"split\"");
  const auto split = parse_split(image["split"].get<std::string>());
  if (!split)
    throw DataError(name, where + ": unknown split " + image["split"].dump() +
                              " (expected train, val, test or restval)");
  parsed.split = *split;
  if (parsed.split == Split::Restval && options.merge_restval_into_train) {
    parsed.split = Split::Train;
    parsed.from_restval = true;
  }

  if (!image.contains("imgid") || !image["imgid"].is_number_integer())
    throw DataError(name, where + ": missing integer \"imgid\"");
  parsed.imgid = image["imgid"].get<int64_t>();
  if (image.contains("cocoid")) {
    if (!image["cocoid"].is_number_integer()) throw DataError(name, where + ": \"cocoid\" must be an integer");
    parsed.cocoid = image["cocoid"].get<int64_t>();
  }
  parsed.width = parse_optional_size(image, "width", name, where);
  parsed.height = parse_optional_size(image, "height", name, where);

  if (!image.contains("sentences") || !image["sentences"].is_array())
    throw DataError(name, where + ": missing array \"sentences\"");
  const auto& sentences = image["sentences"];
  for (size_t s = 0; s < sentences.size(); ++s)
    parsed.sentences.push_back(parse_sentence(sentences[s], name, where + " sentences[" + std::to_string(s) + "]"));
  return parsed;
}

}  // namespace

const char* split_name(Split split) {
  switch (split) {
    case Split::Train: return "train";
    case Split::Val: return "val";
    case Split::Test: return "test";
    case Split::Restval: return "restval";
  }
  return "unknown";
}

std::optional<Split> parse_split(std::string_view name) {
  if (name == "train") return Split::Train;
  if (name == "val") return Split::Val;
  if (name == "test") return Split::Test;
  if (name == "restval") return Split::Restval;
  return std::nullopt;
}

std::filesystem::path KarpathyImage::relative_image_path() const {
  return filepath.empty() ? std::filesystem::path(filename) : std::filesystem::path(filepath) / filename;
}

std::vector<size_t> KarpathyDataset::indices_of_split(Split split) const {
  std::vector<size_t> indices;
  for (size_t i = 0; i < images.size(); ++i)
    if (images[i].split == split) indices.push_back(i);
  return indices;
}

std::map<Split, SplitCounts> KarpathyDataset::split_counts() const {
  std::map<Split, SplitCounts> counts;
  for (const auto& image : images) {
    auto& count = counts[image.split];
    ++count.images;
    count.captions += static_cast<int64_t>(image.sentences.size());
  }
  return counts;
}

std::string KarpathyDataset::describe_split_counts() const {
  std::string text;
  for (const auto& [split, count] : split_counts()) {
    if (!text.empty()) text += "; ";
    text += std::string(split_name(split)) + ": " + std::to_string(count.images) + " images, " +
            std::to_string(count.captions) + " captions";
  }
  return text.empty() ? "no images" : text;
}

KarpathyDataset parse_karpathy_json(const nlohmann::json& document, const std::string& name,
                                    const KarpathyLoadOptions& options) {
  if (!document.is_object()) throw DataError(name, "expected a JSON object with an \"images\" array at the top level");
  if (!document.contains("images") || !document["images"].is_array())
    throw DataError(name, "no \"images\" array: not a Karpathy split file");
  KarpathyDataset dataset;
  if (document.contains("dataset") && document["dataset"].is_string())
    dataset.dataset_name = document["dataset"].get<std::string>();
  const auto& images = document["images"];
  dataset.images.reserve(images.size());
  std::set<int64_t> seen_imgids, seen_feature_ids;
  for (size_t i = 0; i < images.size(); ++i) {
    KarpathyImage image = parse_image(images[i], i, name, options);
    if (!seen_imgids.insert(image.imgid).second)
      throw DataError(name, entry_label(i, images[i]) + ": imgid " + std::to_string(image.imgid) +
                                " appears more than once");
    if (!seen_feature_ids.insert(image.feature_id()).second)
      throw DataError(name, entry_label(i, images[i]) + ": feature id (cocoid or imgid) " +
                                std::to_string(image.feature_id()) + " appears more than once");
    dataset.images.push_back(std::move(image));
  }
  return dataset;
}

KarpathyDataset load_karpathy_json(const std::filesystem::path& path, const KarpathyLoadOptions& options) {
  std::string text;
  nlohmann::json document;
  try {
    text = read_text_file(path);
    check_json_depth(text, path.string());
  } catch (const Error& error) {  // already "<file>: ..."
    throw DataError(path.string(), std::string(error.what()).substr(path.string().size() + 2));
  }
  try {
    document = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    throw DataError(path.string(), "corrupt JSON (" + json_error_text(error) + ")");
  }
  return parse_karpathy_json(document, path.string(), options);
}

nlohmann::json karpathy_to_json(const KarpathyDataset& dataset) {
  nlohmann::json images = nlohmann::json::array();
  int64_t sentence_id = 0;
  for (const auto& image : dataset.images) {
    nlohmann::json entry;
    entry["filepath"] = image.filepath;
    entry["filename"] = image.filename;
    entry["split"] = split_name(image.from_restval ? Split::Restval : image.split);
    entry["imgid"] = image.imgid;
    if (image.cocoid) entry["cocoid"] = *image.cocoid;
    if (image.width) entry["width"] = *image.width;
    if (image.height) entry["height"] = *image.height;
    nlohmann::json sentences = nlohmann::json::array(), sentence_ids = nlohmann::json::array();
    for (const auto& sentence : image.sentences) {
      sentences.push_back({{"tokens", sentence.tokens},
                           {"raw", sentence.raw},
                           {"imgid", image.imgid},
                           {"sentid", sentence_id}});
      sentence_ids.push_back(sentence_id++);
    }
    entry["sentences"] = std::move(sentences);
    entry["sentids"] = std::move(sentence_ids);
    images.push_back(std::move(entry));
  }
  return {{"dataset", dataset.dataset_name}, {"images", std::move(images)}};
}

void write_karpathy_json(const KarpathyDataset& dataset, const std::filesystem::path& path) {
  write_file_text(path, karpathy_to_json(dataset).dump());
}

}  // namespace sparsecap::data
