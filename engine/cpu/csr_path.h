#pragma once
// Which instruction set the CPU sparse kernels (csr_linear.h, sliced_multiply.h) run on. Each
// path is compiled into every build with target attributes (avx2.h, avx512.h) and chosen at run
// time: the widest this CPU has, unless a test or benchmark asks for another.
namespace sparsecap::cpu {

// kPortable: plain C++ loops (any CPU). kAvx2: AVX2 + FMA + F16C. kAvx512: AVX-512 F/BW/VL + FMA + F16C.
enum class CsrPath { kPortable, kAvx2, kAvx512 };

const char* csr_path_name(CsrPath path);

// Whether this CPU can run `path` (kPortable: always).
bool csr_path_available(CsrPath path);

// The widest available path: what the kernels run on unless set_csr_kernels_path chose another.
CsrPath csr_best_path();

// The path the kernels run on now.
CsrPath csr_kernels_path();

// For tests and benchmarks: run the kernels on `path` from now on (csr_best_path() restores the
// default). Throws if this CPU cannot run it. Do not call while a product is running.
void set_csr_kernels_path(CsrPath path);

// How the AVX-512 path's batch 1-4 sliced kernel (sliced_multiply.h) puts the 16 x values of a
// step together. kHardwareGather: one 16-wide vgatherdps. kScalarLoads: the AVX2 kernel, which
// loads them one by one; on AMD Zen 4 that ran batch 1 and 3 products 1.6-2.7x faster than the gather
// (docs/sparse.md, "The AVX-512 path on AMD"). kAuto: scalar loads on AMD CPUs, gathers elsewhere.
enum class SlicedGather { kAuto, kHardwareGather, kScalarLoads };

const char* sliced_gather_name(SlicedGather gather);

// The way the kernels use now (never kAuto).
SlicedGather sliced_gather();

// For tests and benchmarks: use `gather` from now on (kAuto restores the default). Do not call
// while a product is running.
void set_sliced_gather(SlicedGather gather);

}  // namespace sparsecap::cpu
