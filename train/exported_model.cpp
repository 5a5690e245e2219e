#include "train/exported_model.h"

#include <set>

#include "engine/json_input.h"
#include "engine/serialize/checkpoint.h"
#include "models/captioner_registry.h"
#include "train/dataset_setup.h"

namespace sparsecap::train {

std::vector<std::string> vocabulary_words(const data::Vocabulary& vocabulary) {
  std::vector<std::string> words;
  for (int64_t i = 0; i < vocabulary.size(); ++i) words.push_back(vocabulary.word_at(i));
  return words;
}

sparse::ExportReport export_trained_run(const TrainedRun& run, const std::filesystem::path& path,
                                        const sparse::ExportOptions& options) {
  const std::vector<std::string> names = run.model->csr_weight_names();
  return sparse::export_model(*run.model, std::set<std::string>(names.begin(), names.end()), nlohmann::json(run.config),
                              vocabulary_words(run.data.vocabulary), path, options);
}

ExportedCaptioner load_exported_captioner(const std::filesystem::path& path, Device device) {
  const std::string file = path.string();
  sparse::SparseModelFile contents = sparse::read_model_file(path);
  const std::string format = sparse::metadata_entry(contents.metadata, "format", file);
  SPARSECAP_CHECK(format == sparse::kFormatName, file, ": format '", format, "', expected '", sparse::kFormatName, "'");
  ExportedCaptioner loaded;
  try {
    check_json_depth(sparse::metadata_entry(contents.metadata, "config", file), "metadata \"config\"");
    check_json_depth(sparse::metadata_entry(contents.metadata, "vocabulary", file), "metadata \"vocabulary\"");
    loaded.config = parse_run_config(nlohmann::json::parse(sparse::metadata_entry(contents.metadata, "config", file)));
    loaded.vocabulary =
        nlohmann::json::parse(sparse::metadata_entry(contents.metadata, "vocabulary", file)).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& error) {
    throw Error(detail::concat(file, ": bad metadata: ", json_error_text(error)));
  } catch (const Error& error) {
    throw Error(detail::concat(file, ": ", error.what()));
  }
  Generator generator(0);  // every value is overwritten by the file
  loaded.model = models::make_captioner(
      loaded.config.model, captioner_vocabulary(static_cast<int64_t>(loaded.vocabulary.size())), generator);
  nn::StateDict state(contents.dense.begin(), contents.dense.end());
  const std::vector<std::string> sparse_names = loaded.model->sparse_compute_weight_names();
  const std::set<std::string> computes_sparse(sparse_names.begin(), sparse_names.end());
  models::SparseWeights sparse_weights;
  for (const auto& [name, matrix] : contents.csr) {
    state[name] = csr_to_dense(matrix).reshape(contents.csr_shapes.at(name));
    if (computes_sparse.contains(name))
      sparse_weights[name] = std::make_shared<const sparse::CsrMatrix>(device.is_cpu() ? matrix : matrix.to(device));
  }
  for (const auto& [name, tensor] : state) require_finite_tensor(tensor, name, file);
  try {
    loaded.model->load_state_dict(state);
  } catch (const Error& error) {
    throw Error(detail::concat(file, ": ", error.what()));
  }
  loaded.model->to(device);
  loaded.model->use_sparse_weights(sparse_weights);
  loaded.model->eval();
  loaded.csr_weights = static_cast<int64_t>(sparse_weights.size());
  return loaded;
}

size_t identical_test_captions(const std::filesystem::path& path, const TrainedRun& run,
                               const SplitCaptions& reference) {
  ExportedCaptioner loaded = load_exported_captioner(path, run.model->device());
  const SplitCaptions captions =
      caption_split(*loaded.model, run.data.dataset, run.data.vocabulary, run.config.data, data::Split::Test,
                    static_cast<int64_t>(reference.image_ids.size()), 3, run.model->decoding_options().max_words);
  size_t same = 0;
  for (const std::string& id : reference.image_ids) {
    const auto found = captions.candidates.find(id);
    same += found != captions.candidates.end() && found->second == reference.candidates.at(id);
  }
  return same;
}

}  // namespace sparsecap::train
