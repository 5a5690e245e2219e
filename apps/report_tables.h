#pragma once
// Printing evaluation results as the tables the commands show.
#include "engine/sparse/csr_file.h"
#include "pruning/report.h"
#include "train/evaluation.h"

namespace sparsecap::apps {

// BLEU-1..4, METEOR, ROUGE-L, CIDEr-D and the caption statistics of one evaluation.
void print_evaluation(const train::SplitEvaluation& evaluation, const pruning::SparsityReport& sparsity);

// The per-tensor and total table of an export (`sparsecap export` and the demo).
void print_export_report(const sparse::ExportReport& report);

}  // namespace sparsecap::apps
