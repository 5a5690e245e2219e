#pragma once
// Emulation build only: the CUDA header <library_types.h> (the data-type tags that cuBLAS and
// cuSPARSE calls take), with the values of the CUDA toolkit. See vendor_not_emulated.h.
enum cudaDataType_t : int {
  CUDA_R_32F = 0,
  CUDA_R_64F = 1,
  CUDA_R_16F = 2,
};
using cudaDataType = cudaDataType_t;
