// The sparse kernels' path selection (csr_path.h).
#include "engine/cpu/csr_path.h"

#include <atomic>

#include "engine/cpu/avx2.h"
#include "engine/cpu/avx512.h"
#include "engine/error.h"

namespace sparsecap::cpu {

namespace {

std::atomic<CsrPath>& chosen_path() {
  static std::atomic<CsrPath> path{csr_best_path()};
  return path;
}

SlicedGather default_sliced_gather() {
  static const SlicedGather gather =
      __builtin_cpu_is("amd") ? SlicedGather::kScalarLoads : SlicedGather::kHardwareGather;
  return gather;
}

std::atomic<SlicedGather>& chosen_gather() {
  static std::atomic<SlicedGather> gather{default_sliced_gather()};
  return gather;
}

std::atomic<SlicedHalfValues>& chosen_half_values() {
  static std::atomic<SlicedHalfValues> values{SlicedHalfValues::kAuto};
  return values;
}

}  // namespace

const char* csr_path_name(CsrPath path) {
  switch (path) {
    case CsrPath::kPortable: return "portable";
    case CsrPath::kAvx2: return "AVX2";
    case CsrPath::kAvx512: return "AVX-512";
  }
  return "unknown";
}

bool csr_path_available(CsrPath path) {
  switch (path) {
    case CsrPath::kPortable: return true;
    case CsrPath::kAvx2: return cpu_has_avx2();
    case CsrPath::kAvx512: return cpu_has_avx512();
  }
  return false;
}

CsrPath csr_best_path() {
  static const CsrPath best = csr_path_available(CsrPath::kAvx512) ? CsrPath::kAvx512
                              : csr_path_available(CsrPath::kAvx2) ? CsrPath::kAvx2
                                                                   : CsrPath::kPortable;
  return best;
}

CsrPath csr_kernels_path() { return chosen_path().load(std::memory_order_relaxed); }

void set_csr_kernels_path(CsrPath path) {
  SPARSECAP_CHECK(csr_path_available(path), "set_csr_kernels_path: this CPU cannot run the ", csr_path_name(path),
                  " sparse kernels");
  chosen_path().store(path, std::memory_order_relaxed);
}

const char* sliced_gather_name(SlicedGather gather) {
  switch (gather) {
    case SlicedGather::kAuto: return "auto";
    case SlicedGather::kHardwareGather: return "hardware gather";
    case SlicedGather::kScalarLoads: return "scalar loads";
  }
  return "unknown";
}

SlicedGather sliced_gather() { return chosen_gather().load(std::memory_order_relaxed); }

void set_sliced_gather(SlicedGather gather) {
  chosen_gather().store(gather == SlicedGather::kAuto ? default_sliced_gather() : gather, std::memory_order_relaxed);
}

const char* sliced_half_values_name(SlicedHalfValues values) {
  switch (values) {
    case SlicedHalfValues::kAuto: return "auto";
    case SlicedHalfValues::kHalf: return "float16";
    case SlicedHalfValues::kWidened: return "widened to float32";
  }
  return "unknown";
}

SlicedHalfValues sliced_half_values() { return chosen_half_values().load(std::memory_order_relaxed); }

void set_sliced_half_values(SlicedHalfValues values) { chosen_half_values().store(values, std::memory_order_relaxed); }

}  // namespace sparsecap::cpu
