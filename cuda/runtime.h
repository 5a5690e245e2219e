#pragma once
// The CUDA runtime layer of one device: the current-device guard, the device's stream and events,
// the caching device allocator and the pinned host staging buffer used for transfers.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "cuda/cuda_runtime_info.h"

namespace sparsecap::cuda {

// Makes `device` current for the scope and restores the previous one: backends of several GPUs
// may be used from one thread.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// A non-blocking stream owned for the life of the backend. All work of a device is ordered on
// it, which is what makes the allocator's immediate reuse of freed blocks safe.
class Stream {
 public:
  explicit Stream(int device);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }
  void synchronize() const;

 private:
  cudaStream_t stream_ = nullptr;
};

// A CUDA event with timing enabled (benchmarks) or disabled (ordering only, cheaper).
class Event {
 public:
  explicit Event(bool timing = false);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record(cudaStream_t stream);
  void synchronize() const;
  // Milliseconds from `start` to this event; both must have completed.
  float elapsed_ms_since(const Event& start) const;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Size-bucketed caching allocator for one device. Freed blocks go to a free list of their
// bucket and are handed out again without a cudaMalloc. Reuse is stream-ordered: every kernel of
// the device runs on its one stream, so a kernel enqueued after the free can only run after the
// kernels that used the block. Backing memory comes from cudaMallocAsync on the stream where the
// device supports memory pools, from cudaMalloc otherwise. Plain device memory, never managed.
class CachingAllocator {
 public:
  CachingAllocator(int device, cudaStream_t stream);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(size_t bytes);
  // Never throws: called from Storage deleters, possibly during process exit.
  void release(void* pointer) noexcept;
  // Returns every cached (unused) block to the driver.
  void empty_cache();
  AllocatorStats stats() const;

  // The bucket a request falls in: multiples of 512 bytes up to 1 MiB, of 2 MiB above, so that
  // slightly different sizes (a changing batch) share blocks without wasting much.
  static size_t bucket_size(size_t bytes);

 private:
  void* allocate_backing(size_t bytes);
  void free_backing(void* pointer) noexcept;
  void empty_cache_locked();

  int device_;
  cudaStream_t stream_;
  bool use_async_ = false;
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_blocks_;  // bucket size -> cached blocks
  std::map<void*, size_t> live_blocks_;               // pointer -> bucket size
  AllocatorStats stats_;
};

// Pinned host slots through which pageable host memory is copied in chunks of at most one slot:
// transfers from pinned memory run at full PCIe speed and can be asynchronous. The slots are used
// in turn, and a chunk waits only until the copy that last used its slot has left it, kSlots
// chunks ago. With a single buffer every host-to-device copy waited for the one before, which
// sits on the stream behind the kernels queued since: the few small copies of a training step
// (token indices, targets, masks) would each wait for the GPU to catch up.
class PinnedStaging {
 public:
  static constexpr size_t kSlotBytes = size_t{1} << 20;
  static constexpr size_t kSlots = 16;
  PinnedStaging() = default;
  ~PinnedStaging();
  PinnedStaging(const PinnedStaging&) = delete;
  PinnedStaging& operator=(const PinnedStaging&) = delete;

  void copy_from_host(void* device_dst, const void* host_src, size_t bytes, cudaStream_t stream);
  void copy_to_host(void* host_dst, const void* device_src, size_t bytes, cudaStream_t stream);

 private:
  struct Slot {
    void* buffer = nullptr;
    cudaEvent_t free = nullptr;  // recorded after the last copy into or out of the slot
  };
  void ensure_slots();
  // The next slot in turn, once its previous copy has finished.
  Slot& next_free_slot();

  std::mutex mutex_;
  std::vector<Slot> slots_;
  size_t next_ = 0;
};

}  // namespace sparsecap::cuda
