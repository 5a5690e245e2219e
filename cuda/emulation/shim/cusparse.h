#pragma once
// Emulation build only: the cuSPARSE header <cusparse.h> as the host layer sees it there.
// cuSPARSE is not emulated (see cuda/emulation/vendor_not_emulated.h): creating a handle or a
// descriptor fails, so a sparse product reports "cuSPARSE ... is not emulated" instead of running.
#include <library_types.h>

#include "cuda/emulation/vendor_not_emulated.h"

enum cusparseStatus_t : int { CUSPARSE_STATUS_SUCCESS = 0, CUSPARSE_STATUS_NOT_SUPPORTED = 10 };
enum cusparseIndexType_t : int { CUSPARSE_INDEX_32I = 2, CUSPARSE_INDEX_64I = 3 };
enum cusparseIndexBase_t : int { CUSPARSE_INDEX_BASE_ZERO = 0 };
enum cusparseOperation_t : int { CUSPARSE_OPERATION_NON_TRANSPOSE = 0, CUSPARSE_OPERATION_TRANSPOSE = 1 };
enum cusparseOrder_t : int { CUSPARSE_ORDER_COL = 1, CUSPARSE_ORDER_ROW = 2 };
enum cusparseSpMVAlg_t : int { CUSPARSE_SPMV_CSR_ALG1 = 2 };
enum cusparseSpMMAlg_t : int { CUSPARSE_SPMM_CSR_ALG1 = 4 };
// Never defined: no handle or descriptor is ever created.
struct cusparseContext;
struct cusparseSpMatDescr;
struct cusparseDnMatDescr;
struct cusparseDnVecDescr;
using cusparseHandle_t = cusparseContext*;
using cusparseSpMatDescr_t = cusparseSpMatDescr*;
using cusparseDnMatDescr_t = cusparseDnMatDescr*;
using cusparseDnVecDescr_t = cusparseDnVecDescr*;

inline const char* cusparseGetErrorString(cusparseStatus_t status) {
  return status == CUSPARSE_STATUS_SUCCESS
             ? "CUSPARSE_STATUS_SUCCESS"
             : "CUSPARSE_STATUS_NOT_SUPPORTED: cuSPARSE " SPARSECAP_NOT_EMULATED_PHRASE;
}
// An exact signature: LibraryHandle takes the destroy function as a template argument.
inline cusparseStatus_t cusparseDestroy(cusparseHandle_t) { return CUSPARSE_STATUS_NOT_SUPPORTED; }
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseCreate)
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseSetStream)
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseCreateCsr)
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseCreateDnMat)
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseCreateDnVec)
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseDestroySpMat)
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseDestroyDnMat)
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseDestroyDnVec)
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseSpMV_bufferSize)
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseSpMV)
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseSpMM_bufferSize)
SPARSECAP_NOT_EMULATED(cusparseStatus_t, CUSPARSE_STATUS_NOT_SUPPORTED, cusparseSpMM)
