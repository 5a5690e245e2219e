// Device guard, stream, events, caching allocator and pinned staging (host code only).
#include "cuda/runtime.h"

#include <algorithm>
#include <cstring>

#include "cuda/check.h"

namespace sparsecap::cuda {

// ---- DeviceGuard ----

DeviceGuard::DeviceGuard(int device) {
  SPARSECAP_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) SPARSECAP_CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() {
  int current = -1;
  if (cudaGetDevice(&current) == cudaSuccess && current != previous_) cudaSetDevice(previous_);
}

// ---- Stream and Event ----

Stream::Stream(int device) {
  DeviceGuard guard(device);
  // Non-blocking: the legacy default stream used by other libraries does not serialise with ours.
  SPARSECAP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

Stream::~Stream() {
  if (stream_) cudaStreamDestroy(stream_);  // errors at process exit are not actionable
}

void Stream::synchronize() const { SPARSECAP_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

Event::Event(bool timing) {
  SPARSECAP_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}

Event::~Event() {
  if (event_) cudaEventDestroy(event_);
}

void Event::record(cudaStream_t stream) { SPARSECAP_CUDA_CHECK(cudaEventRecord(event_, stream)); }
void Event::synchronize() const { SPARSECAP_CUDA_CHECK(cudaEventSynchronize(event_)); }

float Event::elapsed_ms_since(const Event& start) const {
  float ms = 0;
  SPARSECAP_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, event_));
  return ms;
}

// ---- CachingAllocator ----

CachingAllocator::CachingAllocator(int device, cudaStream_t stream) : device_(device), stream_(stream) {
  int pools_supported = 0;
  SPARSECAP_CUDA_CHECK(cudaDeviceGetAttribute(&pools_supported, cudaDevAttrMemoryPoolsSupported, device));
  use_async_ = pools_supported != 0;
}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mutex_);
  empty_cache_locked();
}

size_t CachingAllocator::bucket_size(size_t bytes) {
  constexpr size_t kSmallStep = 512, kSmallLimit = size_t{1} << 20, kLargeStep = size_t{2} << 20;
  if (bytes == 0) return kSmallStep;
  if (bytes <= kSmallLimit) return (bytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  return (bytes + kLargeStep - 1) / kLargeStep * kLargeStep;
}

void* CachingAllocator::allocate_backing(size_t bytes) {
  DeviceGuard guard(device_);
  void* pointer = nullptr;
  cudaError_t status = use_async_ ? cudaMallocAsync(&pointer, bytes, stream_) : cudaMalloc(&pointer, bytes);
  if (status == cudaErrorMemoryAllocation) {
    // Out of memory: give the cached blocks back and try once more before reporting.
    cudaGetLastError();
    empty_cache_locked();
    if (use_async_) cudaStreamSynchronize(stream_);  // let the async frees complete
    status = use_async_ ? cudaMallocAsync(&pointer, bytes, stream_) : cudaMalloc(&pointer, bytes);
  }
  if (status != cudaSuccess) {
    cudaGetLastError();
    throw Error(::sparsecap::detail::concat("cuda:", device_, ": out of device memory allocating ", bytes,
                                            " bytes (", cudaGetErrorString(status), "); in use ",
                                            stats_.bytes_in_use, " bytes, reserved ", stats_.bytes_reserved,
                                            " bytes"));
  }
  ++stats_.driver_allocations;
  stats_.bytes_reserved += bytes;
  return pointer;
}

void CachingAllocator::free_backing(void* pointer) noexcept {
  int previous = -1;
  cudaGetDevice(&previous);
  if (previous != device_) cudaSetDevice(device_);
  if (use_async_)
    cudaFreeAsync(pointer, stream_);
  else
    cudaFree(pointer);
  if (previous != device_ && previous >= 0) cudaSetDevice(previous);
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t bucket = bucket_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.allocations;
  void* pointer = nullptr;
  auto cached = free_blocks_.find(bucket);
  if (cached != free_blocks_.end() && !cached->second.empty()) {
    pointer = cached->second.back();
    cached->second.pop_back();
    stats_.bytes_cached -= bucket;
    ++stats_.cache_hits;
  } else {
    pointer = allocate_backing(bucket);
  }
  live_blocks_[pointer] = bucket;
  stats_.bytes_in_use += bucket;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return pointer;
}

void CachingAllocator::release(void* pointer) noexcept {
  if (!pointer) return;
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    auto live = live_blocks_.find(pointer);
    if (live == live_blocks_.end()) return;  // not ours: nothing safe to do
    const size_t bucket = live->second;
    live_blocks_.erase(live);
    stats_.bytes_in_use -= bucket;
    free_blocks_[bucket].push_back(pointer);
    stats_.bytes_cached += bucket;
  } catch (...) {
    // push_back may throw bad_alloc; losing a cached block is better than terminating.
  }
}

void CachingAllocator::empty_cache_locked() {
  for (auto& [bucket, blocks] : free_blocks_) {
    for (void* pointer : blocks) {
      free_backing(pointer);
      stats_.bytes_reserved -= bucket;
    }
    blocks.clear();
  }
  stats_.bytes_cached = 0;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  empty_cache_locked();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

// ---- PinnedStaging ----

PinnedStaging::~PinnedStaging() {
  for (Slot& slot : slots_) {
    if (slot.free) cudaEventDestroy(slot.free);
    if (slot.buffer) cudaFreeHost(slot.buffer);
  }
}

void PinnedStaging::ensure_slots() {
  if (!slots_.empty()) return;
  slots_.resize(kSlots);
  for (Slot& slot : slots_) {
    SPARSECAP_CUDA_CHECK(cudaMallocHost(&slot.buffer, kSlotBytes));
    SPARSECAP_CUDA_CHECK(cudaEventCreateWithFlags(&slot.free, cudaEventDisableTiming));
    SPARSECAP_CUDA_CHECK(cudaEventRecord(slot.free, nullptr));
  }
}

PinnedStaging::Slot& PinnedStaging::next_free_slot() {
  ensure_slots();
  Slot& slot = slots_[next_];
  next_ = (next_ + 1) % slots_.size();
  SPARSECAP_CUDA_CHECK(cudaEventSynchronize(slot.free));
  return slot;
}

void PinnedStaging::copy_from_host(void* device_dst, const void* host_src, size_t bytes, cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  const char* src = static_cast<const char*>(host_src);
  char* dst = static_cast<char*>(device_dst);
  for (size_t done = 0; done < bytes;) {
    const size_t chunk = std::min(kSlotBytes, bytes - done);
    Slot& slot = next_free_slot();
    std::memcpy(slot.buffer, src + done, chunk);
    SPARSECAP_CUDA_CHECK(cudaMemcpyAsync(dst + done, slot.buffer, chunk, cudaMemcpyHostToDevice, stream));
    SPARSECAP_CUDA_CHECK(cudaEventRecord(slot.free, stream));
    done += chunk;
  }
  // The host source may be freed as soon as we return: it has been copied into the slots, and
  // they outlive the asynchronous copies, so no synchronisation with the device is needed.
}

void PinnedStaging::copy_to_host(void* host_dst, const void* device_src, size_t bytes, cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  const char* src = static_cast<const char*>(device_src);
  char* dst = static_cast<char*>(host_dst);
  for (size_t done = 0; done < bytes;) {
    const size_t chunk = std::min(kSlotBytes, bytes - done);
    Slot& slot = next_free_slot();
    SPARSECAP_CUDA_CHECK(cudaMemcpyAsync(slot.buffer, src + done, chunk, cudaMemcpyDeviceToHost, stream));
    SPARSECAP_CUDA_CHECK(cudaStreamSynchronize(stream));  // the caller reads the data right away
    std::memcpy(dst + done, slot.buffer, chunk);
    SPARSECAP_CUDA_CHECK(cudaEventRecord(slot.free, stream));
    done += chunk;
  }
}

}  // namespace sparsecap::cuda
