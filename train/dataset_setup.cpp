#include "train/dataset_setup.h"

#include "data/shapes_scene_file.h"
#include "data/synthetic_shapes.h"
#include "engine/error.h"

namespace sparsecap::train {

bool is_synthetic_set(const DataConfig& config) { return config.split_file == "dataset_shapes.json"; }

namespace {

// A synthetic set written by an older build has other first references than this build trains on
// and documents; using it silently would make every figure incomparable. Its pictures are the same,
// so regenerating costs only the generation.
void check_caption_grammar(const std::filesystem::path& dir) {
  const std::filesystem::path scenes = dir / data::kShapesScenesFile;
  if (!std::filesystem::exists(scenes)) return;  // a set made by hand: nothing to compare
  const int grammar = data::read_shapes_caption_grammar(scenes);
  SPARSECAP_CHECK(grammar == data::kShapesCaptionGrammar, "the synthetic set in ", dir.string(),
                  " was written with caption grammar ", grammar, " and this build writes grammar ",
                  data::kShapesCaptionGrammar, " (the first reference lists the objects one by one); delete ",
                  dir.string(), " to regenerate it (same pictures), or set data.dir to a new folder");
}

}  // namespace

void ensure_dataset(const DataConfig& config, const std::function<void(int64_t, int64_t)>& progress) {
  const std::filesystem::path split_file = config.dir / config.split_file;
  if (std::filesystem::exists(split_file)) {
    if (is_synthetic_set(config)) check_caption_grammar(config.dir);
    return;
  }
  SPARSECAP_CHECK(is_synthetic_set(config), "data split file ", split_file.string(),
                  " does not exist (only the built-in synthetic set, dataset_shapes.json, is generated on demand)");
  data::SyntheticShapesOptions options;
  options.image_count = config.synthetic_images;
  options.seed = config.synthetic_seed;
  options.image_size = static_cast<int>(config.image_size);
  data::write_synthetic_shapes(config.dir, options, progress);
}

RunData load_run_data(const DataConfig& config, const std::filesystem::path& vocabulary_path) {
  RunData run;
  run.dataset = data::load_karpathy_json(config.dir / config.split_file);
  if (std::filesystem::exists(vocabulary_path)) {
    run.vocabulary = data::Vocabulary::load_json(vocabulary_path);
    return run;
  }
  std::vector<std::vector<std::string>> training_captions;
  for (size_t index : run.dataset.indices_of_split(data::Split::Train))
    for (const data::Sentence& sentence : run.dataset.images[index].sentences) training_captions.push_back(sentence.tokens);
  SPARSECAP_CHECK(!training_captions.empty(), (config.dir / config.split_file).string(), " has no training captions");
  run.vocabulary = data::Vocabulary::build(training_captions, data::VocabularyOptions{.min_count = config.min_word_count});
  run.vocabulary.save_json(vocabulary_path);
  return run;
}

models::CaptionerVocabulary captioner_vocabulary(int64_t size) {
  return models::CaptionerVocabulary{
      .size = size,
      .tokens = {.pad = data::Vocabulary::kPad, .bos = data::Vocabulary::kBegin, .eos = data::Vocabulary::kEnd}};
}

models::CaptionerVocabulary captioner_vocabulary(const data::Vocabulary& vocabulary) {
  return captioner_vocabulary(vocabulary.size());
}

data::CaptionBatchOptions batch_options(const DataConfig& config, const models::CaptionerInputKinds& inputs,
                                        data::Split split, uint64_t seed, bool training) {
  data::CaptionBatchOptions options;
  options.split = split;
  options.images_per_batch = config.images_per_batch;
  options.seq_per_img = config.seq_per_img;
  if (training) options.leading_references = config.train_references;
  options.encoding.max_words = config.max_words;
  options.shuffle = training;
  options.seed = seed;
  options.image_root = config.dir;
  options.load_pixels = inputs.pixels;
  if (inputs.region_features) options.region_features = data::RegionFeatureLayout::under_root(config.dir);
  options.image_transform.resize_width = static_cast<int>(config.image_size);
  options.image_transform.resize_height = static_cast<int>(config.image_size);
  options.image_transform.random_crop = training && config.augment;
  options.image_transform.random_flip = training && config.augment;
  options.augment_images = training && config.augment;
  return options;
}

}  // namespace sparsecap::train
