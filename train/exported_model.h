#pragma once
// Exporting a trained run as a sparse model file (engine/sparse/csr_file.h) and loading one back
// as a captioner that computes through CSR. Both sides build the model through
// models::make_captioner, so every captioner type exports and loads the same way.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/vocab.h"
#include "engine/sparse/csr_file.h"
#include "models/captioner.h"
#include "train/evaluation.h"
#include "train/run_config.h"
#include "train/trained_run.h"

namespace sparsecap::train {

// Every word of the run's vocabulary in index order (special tokens first).
std::vector<std::string> vocabulary_words(const data::Vocabulary& vocabulary);

// The run's finalized model: its csr_weight_names() as CSR, everything else dense.
sparse::ExportReport export_trained_run(const TrainedRun& run, const std::filesystem::path& path,
                                        const sparse::ExportOptions& options);

struct ExportedCaptioner {
  RunConfig config;
  std::vector<std::string> vocabulary;       // every word in index order
  std::unique_ptr<models::Captioner> model;  // on the device asked for, evaluation mode
  int64_t csr_weights = 0;                   // weights computing through CSR
};

// Builds the captioner from the file's config and loads every tensor. The CSR weights the model
// can compute with (sparse_compute_weight_names) run through the sparse path; the parameters
// also hold their dense values so the model reports its sparsity and can be re-exported; the
// other CSR weights (convolutions) are expanded on load. On a GPU the CSR weights compute
// through cuSPARSE (SpMV at one row, SpMM above). Errors name the file.
ExportedCaptioner load_exported_captioner(const std::filesystem::path& path, Device device = Device::cpu());

// How many of `reference`'s images (test split captions of the run's finalized model, beam 3) the
// model loaded from the export at `path` onto the finalized model's device captions identically.
size_t identical_test_captions(const std::filesystem::path& path, const TrainedRun& run,
                               const SplitCaptions& reference);

}  // namespace sparsecap::train
