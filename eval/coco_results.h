#pragma once
// Reading reference and candidate captions from the files captioning work passes around, and
// writing candidates in the COCO results format the official evaluation server accepts.
#include <filesystem>
#include <string>
#include <string_view>

#include "eval/score.h"

namespace sparsecap::eval {

// References from, by content:
//   COCO annotations  {"annotations": [{"image_id": 1, "caption": ".."}, ...]}
//   Karpathy split    {"images": [{"split": "test", "cocoid": 1, "sentences": [{"raw": ".."}]}]}
//                     (only images of `split`; id = cocoid, else imgid, else id; caption = raw,
//                     else the tokens joined by spaces)
//   sparsecap fixture {"refs": {"id": [".."]}, ...}
// Integer image ids become their decimal string. Throws std::runtime_error naming the file for
// unreadable or malformed files, non-UTF-8 bytes, or a split with no images.
ReferenceCaptions read_reference_captions(const std::filesystem::path& path, std::string_view split = "test");

// Candidates from a COCO results file [{"image_id": 1, "caption": ".."}, ...] (or a fixture's
// "cands" object). Throws std::runtime_error naming the file and the id on a duplicate image id.
CandidateCaptions read_candidate_captions(const std::filesystem::path& path);

// Writes [{"image_id": .., "caption": ..}] sorted by id; ids made only of digits are written as
// JSON integers (COCO's convention), others as strings. Temp file + rename: never half-written.
void write_coco_results(const CandidateCaptions& candidates, const std::filesystem::path& path);

}  // namespace sparsecap::eval
