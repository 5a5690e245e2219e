#pragma once
// CIDEr-D as the MS-COCO toolkit computes it (pycocoevalcap cider_scorer.py, reported there as
// "CIDEr"): TF-IDF vectors of n-grams n = 1..4, idf = ln(N) - ln(max(1, df)); per order the
// similarity with a reference is sum(min(v_c, v_r) * v_r) / (|v_c| |v_r|) times a Gaussian length
// penalty exp(-delta^2 / (2 * 6^2)); averaged over orders and references, times 10.
//
// Two toolkit details reproduced on purpose: the "length" in delta is the number of bigrams of a
// caption (words - 1), and df counts images (not captions) whose references contain the n-gram.
//
// Document frequencies come either from the references being scored (the toolkit's behaviour)
// or from a saved file of training references (the self-critical reward, where each batch is too
// small to give meaningful idf values).
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "eval/ngram.h"
#include "eval/vocabulary.h"

namespace sparsecap::eval {

inline constexpr double kCiderSigma = 6.0;

struct DocumentFrequency {
  std::size_t num_documents = 0;                          // images whose references were counted
  std::unordered_map<std::string, std::uint32_t> counts;  // n-gram words joined by ' ' -> images
};

// df over images: references[i] are the reference captions of image i.
DocumentFrequency document_frequency_of(const std::vector<std::vector<Tokens>>& references);

// JSON: {"format": "sparsecap-cider-df", "version": 1, "num_documents": N,
//        "document_frequency": {"a man": 17, ...}}. Written to a temporary file then renamed.
void save_document_frequency(const DocumentFrequency& df, const std::filesystem::path& path);
// Throws std::runtime_error naming the file when it is missing or malformed.
DocumentFrequency load_document_frequency(const std::filesystem::path& path);

struct CiderScores {
  double corpus = 0.0;
  std::vector<double> per_image;
};

// Toolkit behaviour: df from set.references.
CiderScores compute_cider_d(const EncodedCaptionSet& set);

// df from a saved file; n-gram words are interned into `vocabulary` (the one that encoded `set`).
CiderScores compute_cider_d(const EncodedCaptionSet& set, const DocumentFrequency& df, Vocabulary& vocabulary);

}  // namespace sparsecap::eval
