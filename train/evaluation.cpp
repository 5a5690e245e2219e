#include "train/evaluation.h"

#include "data/caption_batch.h"
#include "data/shapes_scene_file.h"
#include "data/tokenize.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "eval/tokenize.h"
#include "train/batch_tensors.h"
#include "train/dataset_setup.h"

namespace sparsecap::train {

namespace {

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : " ") + word;
  return out;
}

}  // namespace

SplitCaptions caption_split(models::Captioner& model, const data::KarpathyDataset& dataset,
                            const data::Vocabulary& vocabulary, const DataConfig& config, data::Split split,
                            int64_t max_images, int64_t beam_size, int64_t max_words) {
  data::CaptionBatchOptions options = batch_options(config, model.input_kinds(), split, 0, false);
  options.seq_per_img = 1;  // references come with the batch; one encoded caption is enough
  data::CaptionBatchLoader loader(dataset, vocabulary, options);
  loader.start_epoch(0);
  model.eval();
  NoGradGuard no_grad;
  SplitCaptions out;
  while (max_images <= 0 || static_cast<int64_t>(out.image_ids.size()) < max_images) {
    std::optional<data::CaptionBatch> batch = loader.next_batch();
    if (!batch) break;
    const models::CaptionerInputs inputs = captioner_inputs(*batch, model.device());
    const std::vector<models::DecodedCaption> decoded =
        beam_size <= 1 ? models::greedy_decode(model, inputs, max_words)
                       : models::beam_search(model, inputs, models::DecodingOptions{beam_size, max_words});
    for (int64_t i = 0; i < batch->image_count; ++i) {
      if (max_images > 0 && static_cast<int64_t>(out.image_ids.size()) >= max_images) break;
      const std::string id = std::to_string(batch->image_ids[static_cast<size_t>(i)]);
      out.image_ids.push_back(id);
      out.image_paths.push_back(batch->image_paths[static_cast<size_t>(i)]);
      out.candidates[id] = join_words(vocabulary.decode(decoded[static_cast<size_t>(i)].tokens));
      std::vector<std::string>& references = out.references[id];
      for (const auto& reference : batch->references[static_cast<size_t>(i)]) references.push_back(join_words(reference));
    }
  }
  return out;
}

SplitEvaluation evaluate_captions(const SplitCaptions& captions, const data::KarpathyDataset& dataset,
                                  int64_t vocabulary_size) {
  SplitEvaluation evaluation;
  evaluation.scores = eval::score_captions(captions.references, captions.candidates);
  std::vector<eval::Tokens> generated, training;
  for (const std::string& id : captions.image_ids) generated.push_back(eval::tokenize_caption(captions.candidates.at(id)));
  for (size_t index : dataset.indices_of_split(data::Split::Train))
    for (const data::Sentence& sentence : dataset.images[index].sentences) training.push_back(sentence.tokens);
  evaluation.statistics = eval::caption_statistics(generated, training, static_cast<size_t>(vocabulary_size));
  return evaluation;
}

ImageDependence measure_image_dependence(models::Captioner& model, const data::KarpathyDataset& dataset,
                                         const data::Vocabulary& vocabulary, const DataConfig& config,
                                         data::Split split, int64_t max_images) {
  data::CaptionBatchOptions options = batch_options(config, model.input_kinds(), split, 0, false);
  options.seq_per_img = 5;  // the set's references per image
  data::CaptionBatchLoader loader(dataset, vocabulary, options);
  loader.start_epoch(0);
  model.eval();
  NoGradGuard no_grad;
  ImageDependence out;
  double real_sum = 0, blank_sum = 0;
  while (max_images <= 0 || out.images < max_images) {
    std::optional<data::CaptionBatch> batch = loader.next_batch();
    if (!batch) break;
    const models::CaptionerInputs inputs = captioner_inputs(*batch, model.device());
    const models::CaptionerInputs blank = blank_inputs(inputs);
    const Tensor captions = caption_tensor(*batch, model.device());
    // The loss is a mean over the batch's target words (every non-PAD token after BOS); weigh
    // batches by that count so the result is a mean over all words of the split.
    int64_t targets = 0;
    for (size_t i = 0; i < batch->captions.size(); ++i)
      targets += i % static_cast<size_t>(batch->sequence_length) != 0 && batch->captions[i] != data::Vocabulary::kPad;
    real_sum += model.loss(inputs, captions, batch->seq_per_img).item() * static_cast<double>(targets);
    blank_sum += model.loss(blank, captions, batch->seq_per_img).item() * static_cast<double>(targets);
    out.target_words += targets;
    out.images += batch->image_count;
  }
  SPARSECAP_CHECK(out.target_words > 0, "measure_image_dependence: the ", data::split_name(split),
                  " split has no captions");
  out.real_image_loss = real_sum / static_cast<double>(out.target_words);
  out.blank_image_loss = blank_sum / static_cast<double>(out.target_words);
  return out;
}

nlohmann::json image_dependence_to_json(const ImageDependence& dependence) {
  return {{"real_image_loss", dependence.real_image_loss},
          {"blank_image_loss", dependence.blank_image_loss},
          {"images", dependence.images},
          {"target_words", dependence.target_words}};
}

std::optional<GroundedEvaluation> grounded_evaluation(const SplitCaptions& captions,
                                                      const data::KarpathyDataset& dataset, const DataConfig& config,
                                                      const std::string& blank_image_caption) {
  const std::filesystem::path scene_file = config.dir / data::kShapesScenesFile;
  if (!std::filesystem::exists(scene_file)) return std::nullopt;
  const std::map<int64_t, data::Scene> scenes = data::read_shapes_scenes(scene_file);
  std::vector<const data::Sentence*> training;
  for (size_t index : dataset.indices_of_split(data::Split::Train))
    for (const data::Sentence& sentence : dataset.images[index].sentences) training.push_back(&sentence);
  SPARSECAP_CHECK(!training.empty(), "grounded evaluation: the split file has no training captions");
  // Fixed streams: the controls are the same on every evaluation of the same split.
  Generator training_draw(0, 0), reference_draw(0, 1);
  GroundedEvaluation out;
  if (!blank_image_caption.empty()) out.blank_image.emplace();
  out.blank_image_caption = blank_image_caption;
  const std::vector<std::string> blank_tokens = data::tokenize_caption(blank_image_caption);
  for (const std::string& id : captions.image_ids) {
    const auto scene = scenes.find(std::stoll(id));
    SPARSECAP_CHECK(scene != scenes.end(), scene_file.string(), " has no scene for image id ", id);
    out.model.add(scene->second, data::tokenize_caption(captions.candidates.at(id)));
    out.random_training_caption.add(scene->second, training[training_draw.next_below(training.size())]->tokens);
    const std::vector<std::string>& references = captions.references.at(id);
    out.own_reference.add(scene->second, data::tokenize_caption(references[reference_draw.next_below(references.size())]));
    if (out.blank_image) out.blank_image->add(scene->second, blank_tokens);
  }
  return out;
}

std::string caption_blank_image(models::Captioner& model, const data::KarpathyDataset& dataset,
                                const data::Vocabulary& vocabulary, const DataConfig& config, int64_t beam_size,
                                int64_t max_words) {
  // The first test image as the model reads it (its shape and region mask), then blanked.
  data::CaptionBatchOptions options = batch_options(config, model.input_kinds(), data::Split::Test, 0, false);
  options.images_per_batch = 1;
  options.seq_per_img = 1;
  data::CaptionBatchLoader loader(dataset, vocabulary, options);
  loader.start_epoch(0);
  const std::optional<data::CaptionBatch> batch = loader.next_batch();
  SPARSECAP_CHECK(batch.has_value(), "caption_blank_image: the test split has no images");
  model.eval();
  NoGradGuard no_grad;
  const models::CaptionerInputs blank = blank_inputs(captioner_inputs(*batch, model.device()));
  const std::vector<models::DecodedCaption> decoded =
      beam_size <= 1 ? models::greedy_decode(model, blank, max_words)
                     : models::beam_search(model, blank, models::DecodingOptions{beam_size, max_words});
  return join_words(vocabulary.decode(decoded.front().tokens));
}

double validation_cider(const SplitCaptions& captions) {
  eval::ScoreOptions options;
  options.bleu = options.meteor = options.rouge_l = false;
  return eval::score_captions(captions.references, captions.candidates, options).metric("CIDEr_D").corpus;
}

nlohmann::json evaluation_to_json(const SplitEvaluation& evaluation) {
  nlohmann::json out = eval::caption_scores_to_json(evaluation.scores);
  const eval::CaptionStatistics& s = evaluation.statistics;
  out["caption_statistics"] = {{"captions", s.caption_count},
                               {"percent_unique", s.percent_unique},
                               {"percent_novel", s.percent_novel},
                               {"average_length", s.average_length},
                               {"distinct_words", s.distinct_words},
                               {"vocabulary_size", s.vocabulary_size},
                               {"vocabulary_fraction", s.vocabulary_fraction}};
  if (evaluation.grounded) {
    const GroundedEvaluation& g = *evaluation.grounded;
    out["grounded"] = data::grounded_scores_to_json(g.model);
    nlohmann::json controls = {{"random_training_caption", data::grounded_scores_to_json(g.random_training_caption)},
                               {"own_reference", data::grounded_scores_to_json(g.own_reference)}};
    if (g.blank_image) {
      controls["blank_image"] = data::grounded_scores_to_json(*g.blank_image);
      controls["blank_image"]["caption"] = g.blank_image_caption;
    }
    out["grounded_controls"] = std::move(controls);
  }
  return out;
}

}  // namespace sparsecap::train
