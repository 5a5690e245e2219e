#pragma once
// The single-source marker. Functors in engine/kernels are compiled by g++ for the CPU backend and
// by nvcc (or the emulation header) for the CUDA backend; HD makes them callable from both sides.
#if defined(__CUDACC__) || defined(SPARSECAP_CUDA_EMULATE)
#define HD __host__ __device__ __forceinline__
#else
#define HD inline
#endif
