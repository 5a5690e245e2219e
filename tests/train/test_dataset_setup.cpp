// ensure_dataset: generating the synthetic set on demand, and refusing one written with an older
// caption grammar.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/file_io.h"
#include "data/shapes_scene_file.h"
#include "engine/error.h"
#include "tests/data/temporary_directory.h"
#include "tests/train/tiny_shapes_set.h"
#include "train/dataset_setup.h"

namespace sparsecap::train {
namespace {

namespace fs = std::filesystem;
using data::testing_support::TemporaryDirectory;

DataConfig tiny_data(const fs::path& dir) {
  DataConfig config;
  config.dir = dir;
  config.image_size = 32;
  config.synthetic_images = 10;
  return config;
}

TEST(EnsureDataset, GeneratesTheSyntheticSetWithTheCurrentGrammar) {
  TemporaryDirectory dir;
  ensure_dataset(tiny_data(dir.path()));
  ASSERT_TRUE(fs::exists(dir / "dataset_shapes.json"));
  EXPECT_EQ(data::read_shapes_caption_grammar(dir / data::kShapesScenesFile), data::kShapesCaptionGrammar);
  ensure_dataset(tiny_data(dir.path()));  // present and current: used as it is
}

TEST(EnsureDataset, RefusesASetWrittenWithAnOlderCaptionGrammar) {
  TemporaryDirectory dir;
  write_tiny_shapes_set(dir.path(), 3, 10);
  // A set written before the grammar was recorded: the scenes file has no "caption_grammar".
  const fs::path scenes = dir / data::kShapesScenesFile;
  nlohmann::json document = nlohmann::json::parse(data::read_file_bytes(scenes));
  document.erase("caption_grammar");
  data::write_file_text(scenes, document.dump());
  EXPECT_EQ(data::read_shapes_caption_grammar(scenes), 1);
  try {
    ensure_dataset(tiny_data(dir.path()));
    FAIL() << "expected an error for grammar 1";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("caption grammar 1"), std::string::npos) << message;
    EXPECT_NE(message.find(dir.path().string()), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace sparsecap::train
