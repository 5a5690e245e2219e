#pragma once
// What the CPU backend runs on: for `sparsecap info`, benchmark headers and bug reports.
#include <cstdint>
#include <string>
#include <vector>

namespace sparsecap::cpu {

std::string cpu_model();                 // from /proc/cpuinfo, "unknown" elsewhere
std::vector<std::string> cpu_features(); // the SIMD extensions the compiler's runtime detects
int thread_count();                      // OpenMP threads the CPU loops use
// The largest data cache of CPU 0 in bytes, from /sys/devices/system/cpu/cpu0/cache (on x86 the
// shared L3); 8 MiB where that folder is missing. glibc's sysconf(_SC_LEVEL3_CACHE_SIZE) is not
// used: on an AMD EPYC VM it reported ten times the 32 MiB L3 there.
int64_t last_level_cache_bytes();
std::string gemm_library();              // "oneDNN 2.6.3 (dnnl_sgemm)"

}  // namespace sparsecap::cpu
