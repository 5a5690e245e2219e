#pragma once
// The single-source marker. Functors in engine/kernels are compiled by g++ for the CPU backend and
// by nvcc for the CUDA backend; HD makes them callable from both sides. The kernel-emulation build
// (SPARSECAP_CUDA_EMULATE) compiles the kernels with g++, where __host__ __device__ mean nothing
// and HD is plain `inline`, as in the CPU build.
#if defined(__CUDACC__)
#define HD __host__ __device__ __forceinline__
#else
#define HD inline
#endif
