#pragma once
// Exporting a trained run: its finalized model, resolved config and vocabulary.
#include <filesystem>

#include "sparse/export.h"
#include "train/trained_run.h"

namespace sparsecap::sparse {

// Every word of the run's vocabulary in index order (special tokens first).
std::vector<std::string> vocabulary_words(const data::Vocabulary& vocabulary);

ExportReport export_trained_run(const train::TrainedRun& run, const std::filesystem::path& path,
                                const ExportOptions& options);

// The per-tensor and total table `sparsecap export` and the demo print.
void print_export_report(const ExportReport& report);

}  // namespace sparsecap::sparse
