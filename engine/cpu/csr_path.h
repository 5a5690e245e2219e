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

// How the sliced kernels hold a float16 weight's values. kHalf: as float16, widened in registers at
// every step (vcvtph2ps). kWidened: widened to float32 once, when the layout is built, so the
// float32 kernels run; the layout then takes 2 more bytes per entry. On AMD Zen 4 (docs/sparse.md,
// "Float16 values in the sliced layout") kHalf was up to 10% slower than float32 at batch 1 where
// the float32 layout fitted in the L3, and 1.1-1.9x faster where it did not (8192x2048 at 50-80%).
// kAuto: kWidened when the float32 layout would take at most half the last-level cache
// (sliced_layout_widens_half).
enum class SlicedHalfValues { kAuto, kHalf, kWidened };

const char* sliced_half_values_name(SlicedHalfValues values);

// The way set (kAuto unless a test or benchmark chose another).
SlicedHalfValues sliced_half_values();

// For tests and benchmarks: hold float16 values `values`'s way from the next product on (a layout
// built the other way is rebuilt). Do not call while a product is running.
void set_sliced_half_values(SlicedHalfValues values);

}  // namespace sparsecap::cpu
