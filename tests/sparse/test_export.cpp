// The sparse export: CSR round trip of a model's weights, float16 values, zstd and gzip
// compression, the file-size target at 99% sparsity, clear errors for broken files, and a pruned
// Soft-Attention captioner giving the same beam-search captions and logits (within 1e-5) dense
// and loaded back from its float32 export.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <tuple>

#include "../data/temporary_directory.h"
#include "engine/autograd.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/serialize/safetensors.h"
#include "models/decoding.h"
#include "models/soft_attention.h"
#include "engine/sparse/csr_file.h"
#include "train/exported_model.h"

namespace sparsecap::sparse {
namespace {

using data::testing_support::TemporaryDirectory;

models::SoftAttentionConfig small_config(models::CellType cell) {
  models::SoftAttentionConfig config;
  config.encoder.width_multiplier = 0.25;
  config.encoder.stem_channels = 32;
  config.encoder.blocks = {{32, 2}, {64, 2}};  // 16x16 input -> 2x2 memory of 16 channels
  config.decoder.vocabulary_size = 40;
  config.decoder.cell = cell;
  config.decoder.hidden_size = 48;
  config.decoder.embedding_size = 24;
  config.decoder.attention_size = 32;
  config.decoder.dropout = 0.0;
  config.decoding.max_words = 8;
  return config;
}

std::vector<std::string> words(int64_t count) {
  std::vector<std::string> out = {"<pad>", "<unk>", "<bos>", "<eos>"};
  for (int64_t i = 4; i < count; ++i) out.push_back("word" + std::to_string(i));
  return out;
}

// Zeroes about `sparsity` of every prunable weight, as finalize() leaves a pruned model.
void prune_randomly(nn::Module& model, double sparsity, uint64_t seed) {
  NoGradGuard no_grad;
  Generator generator(seed);
  for (const auto& [name, parameter] : model.named_parameters()) {
    const nn::ParameterKind kind = parameter->kind();
    if (kind != nn::ParameterKind::Weight && kind != nn::ParameterKind::Embedding) continue;
    const Tensor keep = bernoulli(parameter->shape(), 1.0 - sparsity, generator);
    parameter->value().copy_(mul(parameter->value(), keep));
  }
}

nlohmann::json run_config_json(const models::SoftAttentionConfig& model_config) {
  train::RunConfig run;
  run.model = model_config;
  run.model["type"] = "soft_attention";
  return train::resolve_run_config(run);
}

// The weights the captioner says an export stores as CSR.
std::set<std::string> csr_names(const models::Captioner& model) {
  const std::vector<std::string> names = model.csr_weight_names();
  return {names.begin(), names.end()};
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

struct PrunedModel {
  models::SoftAttentionConfig config;
  std::unique_ptr<models::SoftAttentionCaptioner> model;
};

// `extended`: the decoder's options on (coordinate channels, coverage, context in the output, the
// word in the query), which add the coverage and word-query matrices to the CSR weights.
PrunedModel pruned_captioner(models::CellType cell, double sparsity = 0.9, bool extended = false) {
  PrunedModel pruned{small_config(cell), nullptr};
  if (extended) {
    pruned.config.decoder.coordinate_channels = true;
    pruned.config.decoder.coverage = true;
    pruned.config.decoder.context_in_output = true;
    pruned.config.decoder.word_in_query = true;
  }
  Generator generator(21);
  pruned.model = std::make_unique<models::SoftAttentionCaptioner>(pruned.config, generator);
  // Batch-norm statistics away from their defaults so their round trip is tested too.
  NoGradGuard no_grad;
  for (const auto& [name, buffer] : pruned.model->named_buffers()) {
    Tensor target = buffer;
    target.copy_(add(buffer, rand(buffer.shape(), generator)));
  }
  prune_randomly(*pruned.model, sparsity, 5);
  pruned.model->eval();
  return pruned;
}

TEST(SparseExport, RoundTripsEveryTensor) {
  TemporaryDirectory directory;
  PrunedModel pruned = pruned_captioner(models::CellType::Lstm);
  const ExportReport report = export_model(*pruned.model, csr_names(*pruned.model), run_config_json(pruned.config), words(40),
                                           directory.path() / "model.safetensors", ExportOptions{});
  EXPECT_EQ(report.file_bytes, std::filesystem::file_size(directory.path() / "model.safetensors"));
  const SparseModelFile file = read_model_file(report.path);
  const nn::StateDict state = pruned.model->state_dict();
  int64_t csr_count = 0;
  for (const auto& [name, parameter] : pruned.model->named_parameters()) {
    const bool prunable = parameter->kind() == nn::ParameterKind::Weight || parameter->kind() == nn::ParameterKind::Embedding;
    EXPECT_EQ(file.csr.count(name) == 1, prunable) << name;
    if (!prunable) continue;
    ++csr_count;
    const CsrMatrix& csr = file.csr.at(name);
    EXPECT_EQ(file.csr_shapes.at(name), parameter->shape()) << name;
    EXPECT_EQ(csr.col_idx.dtype(), DType::U16) << name;
    EXPECT_EQ(csr.values.dtype(), DType::F32) << name;
    EXPECT_EQ(csr_to_dense(csr).reshape(parameter->shape()).to_vector<float>(), state.at(name).to_vector<float>()) << name;
  }
  EXPECT_GE(csr_count, 10);  // convolutions, attention, cell, embedding, output layer
  for (const auto& [name, tensor] : file.dense)
    EXPECT_EQ(tensor.to_vector<double>(), state.at(name).to_vector<double>()) << name;
  EXPECT_EQ(file.csr.size() + file.dense.size(), state.size());
  EXPECT_EQ(file.metadata.at("format"), kFormatName);
  EXPECT_EQ(nlohmann::json::parse(file.metadata.at("vocabulary")).get<std::vector<std::string>>(), words(40));
  EXPECT_EQ(nlohmann::json::parse(file.metadata.at("config")), run_config_json(pruned.config));
}

TEST(SparseExport, Float16ValuesAreHalfTheBytesAndClose) {
  TemporaryDirectory directory;
  PrunedModel pruned = pruned_captioner(models::CellType::Gru);
  const ExportReport f32 = export_model(*pruned.model, csr_names(*pruned.model), run_config_json(pruned.config), words(40),
                                        directory.path() / "f32.safetensors", ExportOptions{});
  ExportOptions half;
  half.value_dtype = DType::F16;
  const ExportReport f16 = export_model(*pruned.model, csr_names(*pruned.model), run_config_json(pruned.config), words(40),
                                        directory.path() / "f16.safetensors", half);
  EXPECT_LT(f16.file_bytes, f32.file_bytes);
  const SparseModelFile file = read_model_file(f16.path);
  const nn::StateDict state = pruned.model->state_dict();
  for (const auto& [name, csr] : file.csr) {
    EXPECT_EQ(csr.values.dtype(), DType::F16) << name;
    const std::vector<float> back = csr_to_dense(csr).to_vector<float>();
    const std::vector<float> original = state.at(name).to_vector<float>();
    for (size_t i = 0; i < back.size(); ++i) ASSERT_NEAR(back[i], original[i], 1e-3 * std::abs(original[i]) + 1e-7) << name;
  }
}

TEST(SparseExport, CompressedFilesRoundTripAndAreDetected) {
  TemporaryDirectory directory;
  PrunedModel pruned = pruned_captioner(models::CellType::Lstm);
  const SparseModelFile plain = read_model_file(export_model(*pruned.model, csr_names(*pruned.model), run_config_json(pruned.config), words(40),
                                                             directory.path() / "m.safetensors", ExportOptions{})
                                                    .path);
  for (const Compression compression : {Compression::Zstd, Compression::Gzip}) {
    ExportOptions options;
    options.compression = compression;
    const ExportReport report = export_model(*pruned.model, csr_names(*pruned.model), run_config_json(pruned.config), words(40),
                                             directory.path() / "m.safetensors", options);
    EXPECT_EQ(report.path, directory.path() / (std::string("m.safetensors") + compression_extension(compression)));
    EXPECT_LT(report.file_bytes, report.uncompressed_bytes);
    const SparseModelFile file = read_model_file(report.path);
    ASSERT_EQ(file.csr.size(), plain.csr.size());
    for (const auto& [name, csr] : file.csr)
      EXPECT_EQ(csr_to_dense(csr).to_vector<float>(), csr_to_dense(plain.csr.at(name)).to_vector<float>()) << name;
    for (const auto& [name, tensor] : file.dense)
      EXPECT_EQ(tensor.to_vector<double>(), plain.dense.at(name).to_vector<double>()) << name;
  }
  // A truncated compressed file is an error naming the file.
  const std::filesystem::path truncated = directory.path() / "truncated.safetensors.zst";
  {
    std::ifstream in(directory.path() / "m.safetensors.zst", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  try {
    read_model_file(truncated);
    FAIL() << "truncated file accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("truncated.safetensors.zst"), std::string::npos) << error.what();
  }
}

TEST(SparseExport, NinetyNinePercentSparseFloat16LayerIsAtMostOnePointFivePercentOfDense) {
  TemporaryDirectory directory;
  Generator generator(2);
  nn::Linear layer(3072, 2048, generator);  // the paper-size LSTM's W_ih shape
  prune_randomly(layer, 0.99, 3);
  ExportOptions dense_options;
  dense_options.dense = true;
  const ExportReport dense = export_model(layer, {"weight"}, nlohmann::json::object(), {}, directory.path() / "dense.safetensors",
                                          dense_options);
  ExportOptions sparse_options;
  sparse_options.value_dtype = DType::F16;
  const ExportReport sparse = export_model(layer, {"weight"}, nlohmann::json::object(), {}, directory.path() / "sparse.safetensors",
                                           sparse_options);
  EXPECT_GE(dense.file_bytes, 2048u * 3072u * 4u);
  const double ratio = static_cast<double>(sparse.file_bytes) / static_cast<double>(dense.file_bytes);
  EXPECT_LE(ratio, 0.015) << sparse.file_bytes << " / " << dense.file_bytes;
  EXPECT_GE(ratio, 0.008);  // 1% of the weights at 4 bytes each can only shrink so far
  // The float32 and compressed variants, printed for docs/sparse.md.
  const ExportReport sparse_f32 = export_model(layer, {"weight"}, nlohmann::json::object(), {},
                                               directory.path() / "sparse32.safetensors", ExportOptions{});
  sparse_options.compression = Compression::Zstd;
  const ExportReport zstd = export_model(layer, {"weight"}, nlohmann::json::object(), {}, directory.path() / "sparse.safetensors",
                                         sparse_options);
  EXPECT_LT(sparse.file_bytes, sparse_f32.file_bytes);
  EXPECT_LT(zstd.file_bytes, sparse.file_bytes);
  std::printf("2048x3072 at 99%%: dense f32 %llu B, CSR f32 %llu B (%.2f%%), CSR f16 %llu B (%.2f%%), "
              "CSR f16 + zstd %llu B (%.2f%%)\n",
              static_cast<unsigned long long>(dense.file_bytes), static_cast<unsigned long long>(sparse_f32.file_bytes),
              100.0 * static_cast<double>(sparse_f32.file_bytes) / static_cast<double>(dense.file_bytes),
              static_cast<unsigned long long>(sparse.file_bytes), 100.0 * ratio,
              static_cast<unsigned long long>(zstd.file_bytes),
              100.0 * static_cast<double>(zstd.file_bytes) / static_cast<double>(dense.file_bytes));
}

// A file with the given tensors, for the error tests.
std::filesystem::path write_file(const std::filesystem::path& path, const NamedTensors& tensors) {
  write_safetensors(path, tensors);
  return path;
}

void expect_read_error(const std::filesystem::path& path, const std::vector<std::string>& parts) {
  try {
    read_model_file(path);
    FAIL() << "accepted " << path;
  } catch (const Error& error) {
    const std::string text = error.what();
    EXPECT_NE(text.find(path.string()), std::string::npos) << text;
    for (const std::string& part : parts) EXPECT_NE(text.find(part), std::string::npos) << text;
  }
}

TEST(SparseExport, BrokenCsrInAFileIsAClearError) {
  TemporaryDirectory directory;
  const Tensor shape = from_vector<int64_t>({2, 4}, {2});
  const Tensor row_ptr = from_vector<int32_t>({0, 2, 3}, {3});
  const Tensor columns = from_vector<uint16_t>({1, 3, 0}, {3});
  const Tensor values = from_vector<float>({1, 2, 3}, {3});
  auto file = [&](const std::string& name, Tensor r, Tensor c, Tensor v, Tensor s) {
    NamedTensors tensors;
    if (r.defined()) tensors.emplace_back("w.row_ptr", r);
    if (c.defined()) tensors.emplace_back("w.col_idx", c);
    if (v.defined()) tensors.emplace_back("w.values", v);
    if (s.defined()) tensors.emplace_back("w.shape", s);
    return write_file(directory.path() / name, tensors);
  };
  EXPECT_EQ(read_model_file(file("ok.safetensors", row_ptr, columns, values, shape)).csr.at("w").nnz(), 3);
  expect_read_error(file("start.safetensors", from_vector<int32_t>({1, 2, 3}, {3}), columns, values, shape),
                    {"w", "row_ptr[0] = 1"});
  expect_read_error(file("monotone.safetensors", from_vector<int32_t>({0, 3, 2}, {3}), columns, values, shape),
                    {"w", "row_ptr decreases at row 1"});
  expect_read_error(file("end.safetensors", from_vector<int32_t>({0, 1, 2}, {3}), columns, values, shape),
                    {"w", "row_ptr ends at 2, expected nnz = 3"});
  expect_read_error(file("range.safetensors", row_ptr, from_vector<uint16_t>({1, 4, 0}, {3}), values, shape),
                    {"w", "col_idx[1] = 4 in row 0 outside [0, 4)"});
  expect_read_error(file("sorted.safetensors", row_ptr, from_vector<uint16_t>({3, 1, 0}, {3}), values, shape),
                    {"w", "not strictly increasing in row 0"});
  expect_read_error(file("lengths.safetensors", row_ptr, columns, from_vector<float>({1, 2}, {2}), shape),
                    {"w", "col_idx has 3 entries but values has 2"});
  expect_read_error(file("rows.safetensors", row_ptr, columns, values, from_vector<int64_t>({3, 4}, {2})),
                    {"w", "row_ptr has 3 entries, expected rows + 1 = 4"});
  // Dimensions whose product overflows int64 (found by fuzz_csr_export).
  expect_read_error(file("huge.safetensors", row_ptr, columns, values,
                         from_vector<int64_t>({2, 4, int64_t{1} << 40, int64_t{1} << 40}, {4})),
                    {"w.shape", "impossibly large"});
  expect_read_error(file("missing.safetensors", row_ptr, Tensor(), values, shape), {"w.col_idx", "missing"});
  expect_read_error(file("orphan.safetensors", Tensor(), columns, values, shape), {"w.col_idx", "no matching"});
  expect_read_error(file("dtype.safetensors", row_ptr, columns, from_vector<double>({1, 2, 3}, {3}), shape),
                    {"w", "values must be F16 or F32"});
}

// (cell, extended decoder)
class SparseEquivalence : public ::testing::TestWithParam<std::tuple<models::CellType, bool>> {};

TEST_P(SparseEquivalence, ExportedModelDecodesLikeTheDenseModel) {
  TemporaryDirectory directory;
  const auto [cell, extended] = GetParam();
  PrunedModel pruned = pruned_captioner(cell, 0.9, extended);
  const ExportReport report = export_model(*pruned.model, csr_names(*pruned.model), run_config_json(pruned.config), words(40),
                                           directory.path() / "model.safetensors", ExportOptions{});
  train::ExportedCaptioner loaded = train::load_exported_captioner(report.path);
  EXPECT_EQ(loaded.csr_weights, (cell == models::CellType::Lstm ? 9 : 8) + (extended ? 2 : 0));
  EXPECT_EQ(loaded.vocabulary, words(40));
  EXPECT_EQ(loaded.config.model["decoder"]["hidden_size"], 48);
  auto* loaded_model = dynamic_cast<models::SoftAttentionCaptioner*>(loaded.model.get());
  ASSERT_NE(loaded_model, nullptr);
  EXPECT_TRUE(loaded_model->decoder().has_sparse_weights());

  Generator generator(8);
  const Tensor images = randn({6, 3, 16, 16}, generator);
  models::DecodingOptions options;
  options.beam_size = 3;
  options.max_words = 8;
  const std::vector<models::DecodedCaption> dense_captions = models::beam_search(*pruned.model, images, options);
  const std::vector<models::DecodedCaption> sparse_captions = models::beam_search(*loaded.model, images, options);
  ASSERT_EQ(dense_captions.size(), sparse_captions.size());
  for (size_t i = 0; i < dense_captions.size(); ++i) {
    EXPECT_EQ(dense_captions[i].tokens, sparse_captions[i].tokens) << "image " << i;
    EXPECT_NEAR(dense_captions[i].log_probability, sparse_captions[i].log_probability, 1e-5) << "image " << i;
  }

  NoGradGuard no_grad;
  const Tensor captions = from_vector<int64_t>({2, 4, 5, 6, 7, 3, 2, 9, 3, 0, 0, 0, 2, 30, 31, 32, 3, 0,  //
                                                2, 8, 3, 0, 0, 0, 2, 11, 12, 3, 0, 0, 2, 39, 38, 37, 36, 3},
                                               {6, 6});
  const Tensor dense_logits = pruned.model->forward_teacher_forced(images, captions, 1);
  const Tensor sparse_logits = loaded_model->forward_teacher_forced(images, captions, 1);
  EXPECT_LE(max_abs_difference(dense_logits, sparse_logits), 1e-5);
  // Step-by-step decoding too (the path beam search takes), batch 6.
  auto dense_state = pruned.model->encode(images);
  auto sparse_state = loaded.model->encode(images);
  Tensor tokens = full({6}, 2, DType::I64);
  for (int step = 0; step < 4; ++step) {
    const Tensor dense_step = pruned.model->decode_step(*dense_state, tokens);
    const Tensor sparse_step = loaded.model->decode_step(*sparse_state, tokens);
    EXPECT_LE(max_abs_difference(dense_step, sparse_step), 1e-5) << "step " << step;
    tokens = argmax(dense_step, 1);
  }
}

INSTANTIATE_TEST_SUITE_P(LstmAndGruPlainAndExtended, SparseEquivalence,
                         ::testing::Combine(::testing::Values(models::CellType::Lstm, models::CellType::Gru),
                                            ::testing::Bool()));

TEST(SparseExport, LoadRejectsAFileThatIsNotAnExport) {
  TemporaryDirectory directory;
  const std::filesystem::path path = write_file(directory.path() / "plain.safetensors", {{"x", zeros({2})}});
  try {
    train::load_exported_captioner(path);
    FAIL() << "accepted a plain safetensors file";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("no 'format'"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace sparsecap::sparse
