// The shapes caption parser and the grounded scores, on hand-written captions and scenes with
// known answers, and on the generator's own references (which must all be true).
#include <gtest/gtest.h>

#include "data/data_error.h"
#include "data/file_io.h"
#include "data/shapes_caption_parser.h"
#include "data/shapes_grounded_scores.h"
#include "data/shapes_scene_file.h"
#include "data/synthetic_shapes.h"
#include "data/tokenize.h"
#include "temporary_directory.h"

namespace sparsecap::data {
namespace {

using testing_support::TemporaryDirectory;

ShapesCaptionClaims parse(const std::string& caption) { return parse_shapes_caption(tokenize_caption(caption)); }

ObjectMention mention(ShapeKind shape, std::optional<ColorName> color, std::optional<SizeClass> size, int count = 1) {
  return ObjectMention{shape, color, size, count};
}

TEST(ShapesCaptionParser, ReadsGroupsSizesAndSynonyms) {
  const ShapesCaptionClaims claims = parse("There are two red circles and a small blue star on a noisy background.");
  ASSERT_EQ(claims.mentions.size(), 2u);
  EXPECT_EQ(claims.mentions[0], mention(ShapeKind::Circle, ColorName::Red, std::nullopt, 2));
  EXPECT_EQ(claims.mentions[1], mention(ShapeKind::Star, ColorName::Blue, SizeClass::Small));
  EXPECT_FALSE(claims.object_total.has_value());

  const ShapesCaptionClaims synonyms = parse("A big violet rhombus to the left of a tiny cyan plus.");
  ASSERT_EQ(synonyms.mentions.size(), 2u);
  EXPECT_EQ(synonyms.mentions[0], mention(ShapeKind::Diamond, ColorName::Purple, SizeClass::Large));
  EXPECT_EQ(synonyms.mentions[1], mention(ShapeKind::Cross, ColorName::Cyan, SizeClass::Small));

  const ShapesCaptionClaims plural_synonyms = parse("I can see three white donuts and an orange block.");
  ASSERT_EQ(plural_synonyms.mentions.size(), 2u);
  EXPECT_EQ(plural_synonyms.mentions[0], mention(ShapeKind::Ring, ColorName::White, std::nullopt, 3));
  EXPECT_EQ(plural_synonyms.mentions[1], mention(ShapeKind::Square, ColorName::Orange, std::nullopt));
}

TEST(ShapesCaptionParser, ReadsStatedTotals) {
  const ShapesCaptionClaims including = parse("Three objects including a little yellow dot.");
  EXPECT_EQ(including.object_total, 3);
  ASSERT_EQ(including.mentions.size(), 1u);
  EXPECT_EQ(including.mentions[0], mention(ShapeKind::Circle, ColorName::Yellow, SizeClass::Small));

  EXPECT_EQ(parse("Just one shape: a big green ring.").object_total, 1);
  EXPECT_EQ(parse("Only one shape, a pink triangle.").object_total, 1);
  EXPECT_EQ(parse("A single object, a red square.").object_total, 1);
  EXPECT_EQ(parse("There are four shapes of different colors.").object_total, 4);
  EXPECT_EQ(parse("There are four shapes of different colors.").mentions.size(), 0u);
  // "the biggest shape" states no total, and "two" before a phrase is a group, not a total.
  EXPECT_FALSE(parse("The biggest shape is a red circle.").object_total.has_value());
  EXPECT_FALSE(parse("Two red circles.").object_total.has_value());
}

TEST(ShapesCaptionParser, AttachesOnlyTheWordsDirectlyBeforeTheShape) {
  // Out of the set's order: "big" sits between the colour and the shape, so the colour is lost.
  const ShapesCaptionClaims claims = parse("a red big circle and a blue");
  ASSERT_EQ(claims.mentions.size(), 1u);
  EXPECT_EQ(claims.mentions[0], mention(ShapeKind::Circle, std::nullopt, SizeClass::Large));
  EXPECT_TRUE(parse("a red and a blue on a textured background").mentions.empty());
}

// Small red circle and large red circle on the left, a small blue star on the right.
Scene two_circles_and_a_star() {
  Scene scene;
  scene.width = scene.height = 64;
  auto object = [](ShapeKind shape, ColorName color, SizeClass size, float x) {
    SceneObject o;
    o.shape = shape, o.color = color, o.size = size, o.center_x = x, o.center_y = 32, o.radius = 6;
    return o;
  };
  scene.objects = {object(ShapeKind::Circle, ColorName::Red, SizeClass::Small, 10),
                   object(ShapeKind::Circle, ColorName::Red, SizeClass::Large, 25),
                   object(ShapeKind::Star, ColorName::Blue, SizeClass::Small, 50)};
  return scene;
}

GroundedScores score_one(const std::string& caption) {
  GroundedScores scores;
  scores.add(two_circles_and_a_star(), tokenize_caption(caption));
  return scores;
}

TEST(ShapesGroundedScores, AFullCorrectInventory) {
  const GroundedScores s = score_one("There are two red circles and a small blue star.");
  EXPECT_EQ(s.shape.claims, 3);
  EXPECT_EQ(s.shape.matched_claims, 3);
  EXPECT_EQ(s.shape.objects, 3);
  EXPECT_DOUBLE_EQ(s.shape.recall(), 1.0);
  EXPECT_DOUBLE_EQ(s.color_shape.precision(), 1.0);
  EXPECT_DOUBLE_EQ(s.color_shape.recall(), 1.0);
  // Only the star is named with its size: one claim, right, one of three objects.
  EXPECT_EQ(s.size_color_shape.claims, 1);
  EXPECT_EQ(s.size_color_shape.matched_claims, 1);
  EXPECT_NEAR(s.size_color_shape.recall(), 1.0 / 3, 1e-12);
  EXPECT_EQ(s.group_claims, 1);
  EXPECT_EQ(s.correct_groups, 1);
  EXPECT_EQ(s.exact_object_sets, 1);
  EXPECT_EQ(s.shape_confusion[static_cast<int>(ShapeKind::Circle)][static_cast<int>(ShapeKind::Circle)], 2);
  EXPECT_EQ(s.shape_confusion[static_cast<int>(ShapeKind::Star)][static_cast<int>(ShapeKind::Star)], 1);
}

TEST(ShapesGroundedScores, AWrongShapeIsPairedWithTheUnnamedObjectOfItsColour) {
  const GroundedScores s = score_one("A red square to the left of a blue star.");
  EXPECT_EQ(s.shape.claims, 2);
  EXPECT_EQ(s.shape.matched_claims, 1);
  EXPECT_NEAR(s.shape.recall(), 1.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(s.color_shape.precision(), 0.5);
  EXPECT_EQ(s.size_color_shape.claims, 0);
  EXPECT_EQ(s.exact_object_sets, 0);
  const auto circle = static_cast<size_t>(ShapeKind::Circle), square = static_cast<size_t>(ShapeKind::Square);
  const size_t none = kShapeKindCount;
  EXPECT_EQ(s.shape_confusion[circle][square], 1);  // one red circle called a square
  EXPECT_EQ(s.shape_confusion[circle][none], 1);    // the other red circle not named
  EXPECT_EQ(s.shape_confusion[none][square], 0);
  // Colours: both claims name a colour the picture has.
  const auto red = static_cast<size_t>(ColorName::Red), blue = static_cast<size_t>(ColorName::Blue);
  EXPECT_EQ(s.color_confusion[red][red], 1);
  EXPECT_EQ(s.color_confusion[blue][blue], 1);
  EXPECT_EQ(s.color_confusion[red][kColorNameCount], 1);
}

TEST(ShapesGroundedScores, AWrongColourIsPairedWithTheUnnamedObjectOfItsShape) {
  const GroundedScores s = score_one("A green star.");
  EXPECT_EQ(s.shape.matched_claims, 1);
  EXPECT_EQ(s.color_shape.matched_claims, 0);
  EXPECT_EQ(s.color_confusion[static_cast<size_t>(ColorName::Blue)][static_cast<size_t>(ColorName::Green)], 1);
}

TEST(ShapesGroundedScores, HallucinatedGroupsAndWrongTotals) {
  GroundedScores s = score_one("Three green triangles.");
  EXPECT_EQ(s.shape.claims, 3);
  EXPECT_EQ(s.shape.matched_claims, 0);
  EXPECT_EQ(s.group_claims, 1);
  EXPECT_EQ(s.correct_groups, 0);
  EXPECT_EQ(s.shape_confusion[kShapeKindCount][static_cast<size_t>(ShapeKind::Triangle)], 3);
  EXPECT_EQ(s.shape_confusion[static_cast<size_t>(ShapeKind::Circle)][kShapeKindCount], 2);
  EXPECT_EQ(s.shape_confusion[static_cast<size_t>(ShapeKind::Star)][kShapeKindCount], 1);

  s.add(two_circles_and_a_star(), tokenize_caption("Four shapes including a red circle."));
  s.add(two_circles_and_a_star(), tokenize_caption("There are three objects on a noisy background."));
  EXPECT_EQ(s.captions, 3);
  EXPECT_EQ(s.total_claims, 2);
  EXPECT_EQ(s.correct_totals, 1);
  EXPECT_DOUBLE_EQ(s.count_accuracy(), 0.5);
  EXPECT_EQ(s.shape.claims, 4);
  EXPECT_EQ(s.shape.matched_claims, 1);
  EXPECT_EQ(s.shape.objects, 9);
  // "two red circles" where there is one red circle of each size is right; one too many is not.
  EXPECT_EQ(score_one("Three red circles.").correct_groups, 0);
  EXPECT_EQ(score_one("Three red circles.").color_shape.matched_claims, 2);
}

TEST(ShapesGroundedScores, ExactSetNeedsEveryObjectOnceAndNothingElse) {
  EXPECT_EQ(score_one("A red circle and a blue star.").exact_object_sets, 0);  // one red circle short
  EXPECT_EQ(score_one("Two red dots and a little blue star.").exact_object_sets, 1);
  EXPECT_EQ(score_one("Two red dots, a blue star and a blue star.").exact_object_sets, 0);
  EXPECT_EQ(score_one("Two circles and a blue star.").exact_object_sets, 0);  // no colour for the circles
}

TEST(ShapesGroundedScores, TheGeneratorsReferencesAreAllTrue) {
  SyntheticShapesOptions options;
  options.image_count = 300;
  GroundedScores all, first;
  for (int64_t i = 0; i < options.image_count; ++i) {
    const SyntheticImage image = generate_synthetic_image(options, i);
    for (const Sentence& caption : image.captions) all.add(image.scene, caption.tokens);
    first.add(image.scene, image.captions.front().tokens);
  }
  EXPECT_EQ(all.captions, 1500);
  EXPECT_GT(all.shape.claims, 1500);
  EXPECT_DOUBLE_EQ(all.shape.precision(), 1.0);
  EXPECT_DOUBLE_EQ(all.color_shape.precision(), 1.0);
  EXPECT_DOUBLE_EQ(all.size_color_shape.precision(), 1.0);
  EXPECT_GT(all.total_claims, 100);
  EXPECT_DOUBLE_EQ(all.count_accuracy(), 1.0);
  EXPECT_GT(all.group_claims, 10);
  EXPECT_DOUBLE_EQ(all.group_count_accuracy(), 1.0);
  // The first reference lists every object.
  EXPECT_DOUBLE_EQ(first.color_shape.recall(), 1.0);
  EXPECT_DOUBLE_EQ(first.exact_set_share(), 1.0);
  // The others do not, so recall over all references is lower.
  EXPECT_LT(all.color_shape.recall(), 0.9);
}

TEST(ShapesSceneFile, ReadsBackWhatTheGeneratorWrote) {
  TemporaryDirectory directory;
  SyntheticShapesOptions options;
  options.image_count = 6;
  options.seed = 3;
  write_synthetic_shapes(directory.path(), options);
  const std::map<int64_t, Scene> scenes = read_shapes_scenes(directory.path() / kShapesScenesFile);
  ASSERT_EQ(scenes.size(), 6u);
  for (int64_t i = 0; i < options.image_count; ++i) {
    const Scene expected = generate_synthetic_image(options, i).scene;
    const Scene& read = scenes.at(i);
    EXPECT_EQ(read.width, 64);
    ASSERT_EQ(read.objects.size(), expected.objects.size());
    for (size_t k = 0; k < read.objects.size(); ++k) {
      EXPECT_EQ(read.objects[k].shape, expected.objects[k].shape);
      EXPECT_EQ(read.objects[k].color, expected.objects[k].color);
      EXPECT_EQ(read.objects[k].size, expected.objects[k].size);
      EXPECT_FLOAT_EQ(read.objects[k].center_x, expected.objects[k].center_x);
      EXPECT_FLOAT_EQ(read.objects[k].extent.x1, expected.objects[k].extent.x1);
    }
  }
}

TEST(ShapesSceneFile, AnUnknownWordNamesTheFileAndTheWord) {
  TemporaryDirectory directory;
  const auto path = directory.path() / kShapesScenesFile;
  write_file_text(path, R"({"image_size": 64, "scenes": [{"imgid": 4, "objects": [{"shape": "hexagon", "color": "red",
      "size": "small", "center": [1, 2], "radius": 3, "box": [0, 0, 4, 4]}]}]})");
  try {
    read_shapes_scenes(path);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hexagon"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sparsecap::data
