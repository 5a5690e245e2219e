#pragma once
// Printing evaluation results as the tables the commands show.
#include <string>

#include "engine/sparse/csr_file.h"
#include "pruning/report.h"
#include "train/evaluation.h"

namespace sparsecap::apps {

// BLEU-1..4, METEOR, ROUGE-L, CIDEr-D and the caption statistics of one evaluation.
void print_evaluation(const train::SplitEvaluation& evaluation, const pruning::SparsityReport& sparsity);

// The per-tensor and total table of an export (`sparsecap export` and the demo).
void print_export_report(const sparse::ExportReport& report);

// The grounded scores of the model's captions beside their controls, one row each.
void print_grounded_evaluation(const train::GroundedEvaluation& grounded);

// One row of grounded columns (shape P/R, colour+shape P/R, size+colour+shape P, count accuracy,
// exact object sets), and its header.
std::string grounded_columns_header();
std::string grounded_columns(const data::GroundedScores& scores);

}  // namespace sparsecap::apps
