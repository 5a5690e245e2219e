#include "train/evaluation.h"

#include "data/caption_batch.h"
#include "engine/autograd.h"
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
    const models::CaptionerInputs inputs = captioner_inputs(*batch);
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
  return out;
}

}  // namespace sparsecap::train
