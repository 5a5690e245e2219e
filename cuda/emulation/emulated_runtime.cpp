// The emulated CUDA runtime API of emulated_runtime.h: one device whose memory is host memory,
// streams that are the host thread, events on the host clock. Argument checks follow the CUDA
// runtime's documented errors (null pointers, an invalid device, destroying null handles), so the
// host layer's error paths behave as they do against the real runtime.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

#include "cuda/emulation/cuda_emulation.h"

// A stream needs an identity only; an event remembers when it was recorded.
struct CUstream_st {
  unsigned flags = 0;
};
struct CUevent_st {
  unsigned flags = 0;
  bool recorded = false;
  std::chrono::steady_clock::time_point when;
};

namespace {

constexpr int kDeviceCount = 1;
// Allocations are aligned like cudaMalloc's (at least 256 bytes), which vectorised kernels rely on.
constexpr size_t kDeviceAlignment = 256;
// What the device reports: a name that says what it is, and a few "multiprocessors" so that code
// sizing grids by the SM count gets a small, realistic number.
constexpr const char* kDeviceName = "sparsecap CUDA emulation (host CPU)";
constexpr int kMultiprocessors = 4;
constexpr size_t kReportedMemory = size_t{8} << 30;
// The CUDA version whose API this file follows (13.0), reported as runtime and driver.
constexpr int kEmulatedVersion = 13000;

thread_local int current_device = 0;

bool valid_device(int device) { return device >= 0 && device < kDeviceCount; }

void* aligned_host_allocation(size_t bytes) {
  const size_t rounded = (bytes + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment;
  return std::aligned_alloc(kDeviceAlignment, rounded == 0 ? kDeviceAlignment : rounded);
}

}  // namespace

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return cudaErrorInvalidValue;
  *count = kDeviceCount;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (!device) return cudaErrorInvalidValue;
  *device = current_device;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (!valid_device(device)) return cudaErrorInvalidDevice;
  current_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* properties, int device) {
  if (!properties) return cudaErrorInvalidValue;
  if (!valid_device(device)) return cudaErrorInvalidDevice;
  *properties = cudaDeviceProp{};
  std::strncpy(properties->name, kDeviceName, sizeof(properties->name) - 1);
  properties->totalGlobalMem = kReportedMemory;
  properties->major = 0;  // no real architecture: the emulation runs the C++ of the kernels
  properties->minor = 0;
  properties->multiProcessorCount = kMultiprocessors;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
  if (!value) return cudaErrorInvalidValue;
  if (!valid_device(device)) return cudaErrorInvalidDevice;
  switch (attribute) {
    case cudaDevAttrMultiProcessorCount: *value = kMultiprocessors; return cudaSuccess;
    case cudaDevAttrMemoryPoolsSupported: *value = 0; return cudaSuccess;
  }
  return cudaErrorInvalidValue;
}

cudaError_t cudaRuntimeGetVersion(int* version) {
  if (!version) return cudaErrorInvalidValue;
  *version = kEmulatedVersion;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) { return cudaRuntimeGetVersion(version); }

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

// ---- memory ----

cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  if (!pointer) return cudaErrorInvalidValue;
  *pointer = aligned_host_allocation(bytes);
  return *pointer ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFree(void* pointer) {
  std::free(pointer);
  return cudaSuccess;
}

cudaError_t cudaMallocAsync(void** pointer, size_t bytes, cudaStream_t) { return cudaMalloc(pointer, bytes); }
cudaError_t cudaFreeAsync(void* pointer, cudaStream_t) { return cudaFree(pointer); }
cudaError_t cudaMallocHost(void** pointer, size_t bytes) { return cudaMalloc(pointer, bytes); }
cudaError_t cudaFreeHost(void* pointer) { return cudaFree(pointer); }

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes != 0 && (!dst || !src)) return cudaErrorInvalidValue;
  if (bytes != 0) std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width,
                              size_t height, cudaMemcpyKind kind, cudaStream_t stream) {
  // The runtime rejects a row wider than either pitch.
  if (width > dst_pitch || width > src_pitch) return cudaErrorInvalidValue;
  for (size_t row = 0; row < height; ++row) {
    const cudaError_t status = cudaMemcpyAsync(static_cast<char*>(dst) + row * dst_pitch,
                                               static_cast<const char*>(src) + row * src_pitch, width, kind, stream);
    if (status != cudaSuccess) return status;
  }
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* pointer, int value, size_t bytes, cudaStream_t) {
  if (bytes != 0 && !pointer) return cudaErrorInvalidValue;
  if (bytes != 0) std::memset(pointer, value, bytes);
  return cudaSuccess;
}

// ---- streams and events ----

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  if (!stream) return cudaErrorInvalidValue;
  *stream = new (std::nothrow) CUstream_st{flags};
  return *stream ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (!stream) return cudaErrorInvalidValue;  // the legacy default stream cannot be destroyed
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

// Every emulated operation is complete when its call returns, so there is nothing to wait for.
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t event, unsigned) {
  return event ? cudaSuccess : cudaErrorInvalidValue;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  if (!event) return cudaErrorInvalidValue;
  *event = new (std::nothrow) CUevent_st{flags, false, {}};
  return *event ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (!event) return cudaErrorInvalidValue;
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (!event) return cudaErrorInvalidValue;
  event->recorded = true;
  event->when = std::chrono::steady_clock::now();
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) { return event ? cudaSuccess : cudaErrorInvalidValue; }

cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end) {
  // As documented: both events recorded, neither created with cudaEventDisableTiming.
  if (!milliseconds || !start || !end || !start->recorded || !end->recorded) return cudaErrorInvalidValue;
  if ((start->flags | end->flags) & cudaEventDisableTiming) return cudaErrorInvalidValue;
  *milliseconds = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}
