#pragma once
// What the CPU backend runs on: for `sparsecap info`, benchmark headers and bug reports.
#include <string>
#include <vector>

namespace sparsecap::cpu {

std::string cpu_model();                 // from /proc/cpuinfo, "unknown" elsewhere
std::vector<std::string> cpu_features(); // the SIMD extensions the compiler's runtime detects
int thread_count();                      // OpenMP threads the CPU loops use
std::string gemm_library();              // "oneDNN 2.6.3 (dnnl_sgemm)"

}  // namespace sparsecap::cpu
