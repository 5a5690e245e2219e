#include "data/shapes_grounded_scores.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include "data/shapes_caption_parser.h"
#include "data/shapes_words.h"

namespace sparsecap::data {

namespace {

// One claimed object: a mention with count n gives n of these.
struct Claim {
  ShapeKind shape;
  std::optional<ColorName> color;
  std::optional<SizeClass> size;
};

std::vector<Claim> expand_claims(const ShapesCaptionClaims& parsed) {
  std::vector<Claim> claims;
  for (const ObjectMention& mention : parsed.mentions)
    for (int k = 0; k < mention.count; ++k) claims.push_back({mention.shape, mention.color, mention.size});
  return claims;
}

// The key of a claim at a level, or nullopt when the claim does not state the level's attributes.
using ClaimKey = std::function<std::optional<int>(const Claim&)>;
using ObjectKey = std::function<int(const SceneObject&)>;

int shape_key(ShapeKind shape) { return static_cast<int>(shape); }
int color_shape_key(ColorName color, ShapeKind shape) { return static_cast<int>(color) * kShapeKindCount + shape_key(shape); }
int size_color_shape_key(SizeClass size, ColorName color, ShapeKind shape) {
  return static_cast<int>(size) * kColorNameCount * kShapeKindCount + color_shape_key(color, shape);
}

// Matches claims and objects one to one on equal keys (a multiset intersection, which is the
// largest such matching) and adds the counts to `level`.
void score_level(const std::vector<Claim>& claims, const Scene& scene, const ClaimKey& claim_key,
                 const ObjectKey& object_key, GroundedLevel& level) {
  std::map<int, int64_t> claimed, present;
  for (const Claim& claim : claims)
    if (const std::optional<int> key = claim_key(claim)) ++claimed[*key], ++level.claims;
  for (const SceneObject& object : scene.objects) ++present[object_key(object)];
  level.objects += static_cast<int64_t>(scene.objects.size());
  int64_t matched = 0;
  for (const auto& [key, count] : claimed) {
    const auto found = present.find(key);
    if (found != present.end()) matched += std::min(count, found->second);
  }
  level.matched_claims += matched;
  level.matched_objects += matched;
}

// Fills a confusion table for one attribute (`value`: shape or colour) with `partner` the other
// attribute (colour or shape): exact matches first (same value, preferring the same partner),
// then a wrong value paired with an unnamed object of the same partner, then the leftovers.
template <typename Value, typename Partner>
void add_confusion(const std::vector<Claim>& claims, const Scene& scene,
                   const std::function<std::optional<Value>(const Claim&)>& claim_value,
                   const std::function<std::optional<Partner>(const Claim&)>& claim_partner,
                   const std::function<Value(const SceneObject&)>& object_value,
                   const std::function<Partner(const SceneObject&)>& object_partner, ConfusionTable& table) {
  const size_t none = table.size() - 1;  // the "not in the picture" row and the "not named" column
  std::vector<bool> claim_used(claims.size(), false), object_used(scene.objects.size(), false);
  // pass 0: same value and same partner; pass 1: same value; pass 2: same partner, another value.
  for (int pass = 0; pass < 3; ++pass)
    for (size_t c = 0; c < claims.size(); ++c) {
      const std::optional<Value> value = claim_value(claims[c]);
      if (claim_used[c] || !value) continue;
      const std::optional<Partner> partner = claim_partner(claims[c]);
      if (pass != 1 && !partner) continue;
      for (size_t o = 0; o < scene.objects.size(); ++o) {
        if (object_used[o]) continue;
        const SceneObject& object = scene.objects[o];
        const bool same_value = object_value(object) == *value;
        const bool same_partner = partner && object_partner(object) == *partner;
        const bool pairs = pass == 0 ? same_value && same_partner : pass == 1 ? same_value : same_partner;
        if (!pairs) continue;
        ++table[static_cast<size_t>(object_value(object))][static_cast<size_t>(*value)];
        claim_used[c] = object_used[o] = true;
        break;
      }
    }
  for (size_t c = 0; c < claims.size(); ++c)
    if (const std::optional<Value> value = claim_value(claims[c]); !claim_used[c] && value)
      ++table[none][static_cast<size_t>(*value)];
  for (size_t o = 0; o < scene.objects.size(); ++o)
    if (!object_used[o]) ++table[static_cast<size_t>(object_value(scene.objects[o]))][none];
}

nlohmann::json confusion_to_json(const ConfusionTable& table, const std::vector<std::string>& names) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t row = 0; row < table.size(); ++row) {
    nlohmann::json counts = nlohmann::json::object();
    for (size_t column = 0; column < table[row].size(); ++column)
      if (table[row][column] > 0)
        counts[column < names.size() ? names[column] : "not named"] = table[row][column];
    out[row < names.size() ? names[row] : "not in the picture"] = std::move(counts);
  }
  return out;
}

nlohmann::json level_to_json(const GroundedLevel& level) {
  return {{"precision", level.precision()}, {"recall", level.recall()},         {"claims", level.claims},
          {"matched_claims", level.matched_claims}, {"objects", level.objects}, {"matched_objects", level.matched_objects}};
}

}  // namespace

void GroundedScores::add(const Scene& scene, const std::vector<std::string>& caption_tokens) {
  const ShapesCaptionClaims parsed = parse_shapes_caption(caption_tokens);
  const std::vector<Claim> claims = expand_claims(parsed);
  ++captions;

  score_level(claims, scene, [](const Claim& c) -> std::optional<int> { return shape_key(c.shape); },
              [](const SceneObject& o) { return shape_key(o.shape); }, shape);
  score_level(
      claims, scene,
      [](const Claim& c) -> std::optional<int> {
        if (!c.color) return std::nullopt;
        return color_shape_key(*c.color, c.shape);
      },
      [](const SceneObject& o) { return color_shape_key(o.color, o.shape); }, color_shape);
  score_level(
      claims, scene,
      [](const Claim& c) -> std::optional<int> {
        if (!c.color || !c.size) return std::nullopt;
        return size_color_shape_key(*c.size, *c.color, c.shape);
      },
      [](const SceneObject& o) { return size_color_shape_key(o.size, o.color, o.shape); }, size_color_shape);

  const auto object_count = static_cast<int>(scene.objects.size());
  if (parsed.object_total) ++total_claims, correct_totals += *parsed.object_total == object_count;
  for (const ObjectMention& mention : parsed.mentions) {
    if (mention.count < 2 || !mention.color) continue;
    const auto same = std::count_if(scene.objects.begin(), scene.objects.end(), [&](const SceneObject& o) {
      return o.shape == mention.shape && o.color == *mention.color;
    });
    ++group_claims;
    correct_groups += same == mention.count;
  }

  std::map<int, int64_t> claimed_set, present_set;
  bool every_claim_has_a_color = true;
  for (const Claim& claim : claims) {
    if (!claim.color) every_claim_has_a_color = false;
    else ++claimed_set[color_shape_key(*claim.color, claim.shape)];
  }
  for (const SceneObject& object : scene.objects) ++present_set[color_shape_key(object.color, object.shape)];
  exact_object_sets += every_claim_has_a_color && claimed_set == present_set;

  add_confusion<ShapeKind, ColorName>(
      claims, scene, [](const Claim& c) -> std::optional<ShapeKind> { return c.shape; },
      [](const Claim& c) { return c.color; }, [](const SceneObject& o) { return o.shape; },
      [](const SceneObject& o) { return o.color; }, shape_confusion);
  add_confusion<ColorName, ShapeKind>(
      claims, scene, [](const Claim& c) { return c.color; },
      [](const Claim& c) -> std::optional<ShapeKind> { return c.shape; }, [](const SceneObject& o) { return o.color; },
      [](const SceneObject& o) { return o.shape; }, color_confusion);
}

nlohmann::json grounded_scores_to_json(const GroundedScores& scores) {
  std::vector<std::string> shapes, colors;
  for (int s = 0; s < kShapeKindCount; ++s) shapes.push_back(shape_words(static_cast<ShapeKind>(s)).front());
  for (int c = 0; c < kColorNameCount; ++c) colors.push_back(color_words(static_cast<ColorName>(c)).front());
  return {{"captions", scores.captions},
          {"shape", level_to_json(scores.shape)},
          {"color_shape", level_to_json(scores.color_shape)},
          {"size_color_shape", level_to_json(scores.size_color_shape)},
          {"count_accuracy", scores.count_accuracy()},
          {"count_claims", scores.total_claims},
          {"group_count_accuracy", scores.group_count_accuracy()},
          {"group_count_claims", scores.group_claims},
          {"exact_object_set_share", scores.exact_set_share()},
          {"shape_confusion", confusion_to_json(scores.shape_confusion, shapes)},
          {"color_confusion", confusion_to_json(scores.color_confusion, colors)}};
}

}  // namespace sparsecap::data
