#pragma once
// Grounded scores for captions of the synthetic shapes set: what a caption claims (read with the
// set's own grammar and words, data/shapes_caption_parser.h) against the objects the picture
// really holds (its scene, data/shapes_scene_file.h). CIDEr-D rewards fluent captions of the
// set's language even when they describe another picture; these scores do not.
//
// At each level (shape; colour + shape; size + colour + shape) a caption's claims are its
// mentions that state that level's attributes, each counted `count` times ("two red circles" claims
// two red circles). Claims and objects are matched one to one on the level's attributes:
//   precision = matched claims / claims,  recall = matched objects / objects of the pictures.
// Sizes are optional in the set's captions, so size + colour + shape recall stays well below the
// others even for the references. A caption's stated total ("three shapes") is right when it equals
// the number of objects; a group count ("two red circles") when the picture has exactly that many
// objects of that colour and shape. A caption names exactly the picture's objects when its colour +
// shape claims equal the picture's objects as a multiset.
//
// The confusion tables pair what is left after matching: a claim whose shape is wrong is paired
// with an unnamed object of the same colour (the shape table) and one whose colour is wrong with an
// unnamed object of the same shape (the colour table); claims with no such object count as "not in
// the picture", objects no claim names as "not named".
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/shapes_scene.h"

namespace sparsecap::data {

struct GroundedLevel {
  int64_t claims = 0;
  int64_t matched_claims = 0;
  int64_t objects = 0;
  int64_t matched_objects = 0;
  double precision() const { return claims > 0 ? static_cast<double>(matched_claims) / static_cast<double>(claims) : 0.0; }
  double recall() const { return objects > 0 ? static_cast<double>(matched_objects) / static_cast<double>(objects) : 0.0; }
};

// Rows: the object's true value, then one row for claims with no matching object; columns: the
// claimed value, then one column for objects no claim names.
using ConfusionTable = std::vector<std::vector<int64_t>>;

struct GroundedScores {
  int64_t captions = 0;
  GroundedLevel shape, color_shape, size_color_shape;
  int64_t total_claims = 0, correct_totals = 0;          // "three shapes"
  int64_t group_claims = 0, correct_groups = 0;          // "two red circles"
  int64_t exact_object_sets = 0;                         // captions naming exactly the picture's objects
  ConfusionTable shape_confusion = ConfusionTable(kShapeKindCount + 1, std::vector<int64_t>(kShapeKindCount + 1, 0));
  ConfusionTable color_confusion = ConfusionTable(kColorNameCount + 1, std::vector<int64_t>(kColorNameCount + 1, 0));

  // Scores one caption (tokens as data/tokenize.h makes them) against its picture's scene.
  void add(const Scene& scene, const std::vector<std::string>& caption_tokens);

  double count_accuracy() const { return ratio(correct_totals, total_claims); }
  double group_count_accuracy() const { return ratio(correct_groups, group_claims); }
  double exact_set_share() const { return ratio(exact_object_sets, captions); }

 private:
  static double ratio(int64_t part, int64_t whole) {
    return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
  }
};

nlohmann::json grounded_scores_to_json(const GroundedScores& scores);

}  // namespace sparsecap::data
