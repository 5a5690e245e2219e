#include "eval/cider.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "engine/json_input.h"

namespace sparsecap::eval {
namespace {

// idf values keyed by encoded n-gram, with the value used for n-grams never seen (df = 0 -> 1).
struct IdfTable {
  double log_num_documents = 0.0;
  std::unordered_map<NGram, double, NGramHash> idf;

  double of(const NGram& ngram) const {
    auto found = idf.find(ngram);
    return found == idf.end() ? log_num_documents : found->second;
  }
};

struct TfIdfVector {
  struct Entry {
    NGram ngram;
    double value = 0.0;
  };
  std::vector<Entry> entries;  // sorted by n-gram
  std::array<double, kMaxNGramOrder> norm{};
  int bigram_count = 0;  // the toolkit's "length"
};

TfIdfVector tf_idf_vector(const EncodedCaption& caption, const IdfTable& idf) {
  TfIdfVector vector;
  const NGramCounts counts = count_ngrams(caption);
  vector.entries.reserve(counts.size());
  for (const NGramCount& entry : counts) {
    const double value = entry.count * idf.of(entry.ngram);
    vector.entries.push_back({entry.ngram, value});
    vector.norm[entry.ngram.order - 1] += value * value;
    if (entry.ngram.order == 2) vector.bigram_count += entry.count;
  }
  for (double& norm : vector.norm) norm = std::sqrt(norm);
  return vector;
}

// Per-order clipped cosine similarity with the length penalty.
std::array<double, kMaxNGramOrder> similarity(const TfIdfVector& candidate, const TfIdfVector& reference) {
  std::array<double, kMaxNGramOrder> values{};
  std::size_t r = 0;
  for (const auto& entry : candidate.entries) {
    while (r < reference.entries.size() && reference.entries[r].ngram < entry.ngram) ++r;
    if (r < reference.entries.size() && reference.entries[r].ngram == entry.ngram) {
      const double reference_value = reference.entries[r].value;
      values[entry.ngram.order - 1] += std::min(entry.value, reference_value) * reference_value;
    }
  }
  const double delta = static_cast<double>(candidate.bigram_count - reference.bigram_count);
  const double length_penalty = std::exp(-(delta * delta) / (2 * kCiderSigma * kCiderSigma));
  for (int n = 0; n < kMaxNGramOrder; ++n) {
    if (candidate.norm[n] != 0.0 && reference.norm[n] != 0.0) values[n] /= candidate.norm[n] * reference.norm[n];
    values[n] *= length_penalty;
  }
  return values;
}

double cider_d_of_image(const EncodedCaption& candidate, const std::vector<EncodedCaption>& references,
                        const IdfTable& idf) {
  const TfIdfVector candidate_vector = tf_idf_vector(candidate, idf);
  std::array<double, kMaxNGramOrder> summed{};
  for (const EncodedCaption& reference : references) {
    const auto values = similarity(candidate_vector, tf_idf_vector(reference, idf));
    for (int n = 0; n < kMaxNGramOrder; ++n) summed[n] += values[n];
  }
  const double mean_over_orders = std::accumulate(summed.begin(), summed.end(), 0.0) / kMaxNGramOrder;
  return mean_over_orders / static_cast<double>(references.size()) * 10.0;
}

CiderScores score_with(const EncodedCaptionSet& set, const IdfTable& idf) {
  CiderScores scores;
  scores.per_image.reserve(set.candidates.size());
  double sum = 0.0;
  for (std::size_t i = 0; i < set.candidates.size(); ++i) {
    scores.per_image.push_back(cider_d_of_image(set.candidates[i], set.references[i], idf));
    sum += scores.per_image.back();
  }
  scores.corpus = set.candidates.empty() ? 0.0 : sum / static_cast<double>(set.candidates.size());
  return scores;
}

std::string ngram_key(const Tokens& tokens, std::size_t start, std::size_t order) {
  std::string key = tokens[start];
  for (std::size_t k = 1; k < order; ++k) {
    key.push_back(' ');
    key += tokens[start + k];
  }
  return key;
}

Tokens split_key(const std::string& key) {
  Tokens words;
  std::istringstream stream(key);
  std::string word;
  while (stream >> word) words.push_back(word);
  return words;
}

}  // namespace

DocumentFrequency document_frequency_of(const std::vector<std::vector<Tokens>>& references) {
  DocumentFrequency df;
  df.num_documents = references.size();
  for (const std::vector<Tokens>& image_references : references) {
    std::unordered_set<std::string> seen;
    for (const Tokens& reference : image_references) {
      for (std::size_t order = 1; order <= kMaxNGramOrder; ++order) {
        for (std::size_t start = 0; start + order <= reference.size(); ++start) {
          seen.insert(ngram_key(reference, start, order));
        }
      }
    }
    for (const std::string& key : seen) ++df.counts[key];
  }
  return df;
}

void save_document_frequency(const DocumentFrequency& df, const std::filesystem::path& path) {
  nlohmann::json json;
  json["format"] = "sparsecap-cider-df";
  json["version"] = 1;
  json["num_documents"] = df.num_documents;
  json["document_frequency"] = df.counts;
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary);
    if (!out) throw std::runtime_error("cannot write document-frequency file " + temporary.string());
    out << json.dump();
    if (!out) throw std::runtime_error("failed writing document-frequency file " + temporary.string());
  }
  std::filesystem::rename(temporary, path);
}

DocumentFrequency load_document_frequency(const std::filesystem::path& path) {
  const nlohmann::json json = read_json_file(path);
  if (!json.is_object() || json.value("format", "") != "sparsecap-cider-df" || !json.contains("num_documents") ||
      !json.contains("document_frequency")) {
    throw std::runtime_error("document-frequency file " + path.string() +
                             " lacks format \"sparsecap-cider-df\", num_documents or document_frequency");
  }
  DocumentFrequency df;
  try {
    df.num_documents = json.at("num_documents").get<std::size_t>();
    df.counts = json.at("document_frequency").get<std::unordered_map<std::string, std::uint32_t>>();
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error("document-frequency file " + path.string() + " has a malformed field: " + json_error_text(error));
  }
  if (df.num_documents == 0) throw std::runtime_error("document-frequency file " + path.string() + " has num_documents 0");
  return df;
}

CiderScores compute_cider_d(const EncodedCaptionSet& set) {
  std::unordered_map<NGram, int, NGramHash> df;
  for (const std::vector<EncodedCaption>& image_references : set.references) {
    std::vector<NGram> image_ngrams;
    for (const EncodedCaption& reference : image_references) {
      for (const NGramCount& entry : count_ngrams(reference)) image_ngrams.push_back(entry.ngram);
    }
    std::sort(image_ngrams.begin(), image_ngrams.end());
    image_ngrams.erase(std::unique(image_ngrams.begin(), image_ngrams.end()), image_ngrams.end());
    for (const NGram& ngram : image_ngrams) ++df[ngram];
  }
  IdfTable idf;
  idf.log_num_documents = std::log(static_cast<double>(set.references.size()));
  idf.idf.reserve(df.size());
  for (const auto& [ngram, count] : df) idf.idf.emplace(ngram, idf.log_num_documents - std::log(static_cast<double>(count)));
  return score_with(set, idf);
}

CiderScores compute_cider_d(const EncodedCaptionSet& set, const DocumentFrequency& df, Vocabulary& vocabulary) {
  IdfTable idf;
  idf.log_num_documents = std::log(static_cast<double>(df.num_documents));
  idf.idf.reserve(df.counts.size());
  for (const auto& [key, count] : df.counts) {
    const Tokens words = split_key(key);
    if (words.empty() || words.size() > kMaxNGramOrder) continue;
    NGram ngram;
    ngram.order = static_cast<std::uint8_t>(words.size());
    for (std::size_t k = 0; k < words.size(); ++k) ngram.words[k] = vocabulary.intern(words[k]);
    idf.idf.emplace(ngram, idf.log_num_documents - std::log(std::max(1.0, static_cast<double>(count))));
  }
  return score_with(set, idf);
}

}  // namespace sparsecap::eval
