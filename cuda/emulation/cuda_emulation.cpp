// The runtime of the CUDA emulation (see cuda_emulation.h for the model): runs a grid block after
// block, each block on a pool of OS threads synchronised by real barriers, with per-warp exchange
// slots for the warp collectives.
#include "cuda/emulation/cuda_emulation.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <semaphore>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

thread_local uint3 threadIdx{0, 0, 0};
thread_local uint3 blockIdx{0, 0, 0};
thread_local dim3 blockDim{1, 1, 1};
thread_local dim3 gridDim{1, 1, 1};

namespace sparsecap::cuda::emulation {
namespace {

// What a GPU allows (every architecture we build for).
constexpr unsigned kMaxThreadsPerBlock = 1024, kMaxBlockZ = 64, kMaxGridYZ = 65535;
constexpr size_t kMaxDynamicSharedBytes = 48 * 1024;  // without the opt-in attribute
constexpr unsigned kMaxGridX = 2147483647u;
// A barrier that waits this long is a deadlock (a collective or __syncthreads() that some threads
// never reach): the launch fails instead of hanging CI. Generous for ThreadSanitizer's slowdown.
constexpr auto kDeadlockTimeout = std::chrono::seconds(120);

// An emulation check failed inside a kernel (thrown through the kernel body to the thread's root).
struct KernelFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string hex(unsigned value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

// A barrier that threads may leave (arrive_and_drop), with the optional warp-ordered schedule:
// between two phases only one warp runs, in the schedule's order. Threads wait on their warp's
// condition variable, and only the warps that may proceed are woken (a notify_all over a
// 1024-thread block on every arrival made the emulation quadratic).
class BlockBarrier {
 public:
  BlockBarrier(const std::vector<unsigned>& threads_per_warp, Schedule schedule)
      : alive_in_warp_(threads_per_warp), arrived_in_warp_(threads_per_warp.size(), 0),
        warp_changed_(threads_per_warp.size()), ordered_(schedule != Schedule::Concurrent) {
    for (unsigned threads : threads_per_warp) expected_ += threads;
    const unsigned warps = static_cast<unsigned>(threads_per_warp.size());
    for (unsigned i = 0; i < warps; ++i) order_.push_back(schedule == Schedule::WarpsInReverseOrder ? warps - 1 - i : i);
  }

  // At a thread's start: in an ordered schedule, wait for its warp's turn. The concurrent
  // schedule takes no lock here: a lock would order a thread that already finished before one
  // that starts, and hide their races from ThreadSanitizer.
  void begin(unsigned warp) {
    if (!ordered_) return;
    std::unique_lock lock(mutex_);
    wait_for_turn(lock, warp);
  }

  void arrive_and_wait(unsigned warp) {
    std::unique_lock lock(mutex_);
    const uint64_t phase = phase_;
    ++arrived_;
    ++arrived_in_warp_[warp];
    progress_locked();
    if (phase_ == phase &&
        !warp_changed_[warp].wait_for(lock, kDeadlockTimeout, [&] { return phase_ != phase; }))
      throw KernelFailure("__syncthreads() waited " + std::to_string(kDeadlockTimeout.count()) +
                          " s: some threads of the block never reach it (a barrier in divergent code?)");
    wait_for_turn(lock, warp);
  }

  void drop(unsigned warp) {
    std::unique_lock lock(mutex_);
    --expected_;
    --alive_in_warp_[warp];
    progress_locked();
  }

 private:
  bool warp_done(unsigned warp) const { return arrived_in_warp_[warp] == alive_in_warp_[warp]; }

  // Completes the phase when every live thread has arrived; passes the turn on when the warp
  // whose turn it is has arrived (or left) entirely. Wakes exactly the warps that may go on.
  void progress_locked() {
    if (expected_ > 0 && arrived_ == expected_) {
      ++phase_;
      arrived_ = 0;
      std::fill(arrived_in_warp_.begin(), arrived_in_warp_.end(), 0u);
      turn_ = 0;
      while (turn_ < order_.size() && warp_done(order_[turn_])) ++turn_;
      if (!ordered_)
        for (auto& changed : warp_changed_) changed.notify_all();
      else if (turn_ < order_.size())
        warp_changed_[order_[turn_]].notify_all();
      return;
    }
    if (!ordered_) return;
    const size_t before = turn_;
    while (turn_ < order_.size() && warp_done(order_[turn_])) ++turn_;
    if (turn_ != before && turn_ < order_.size()) warp_changed_[order_[turn_]].notify_all();
  }

  void wait_for_turn(std::unique_lock<std::mutex>& lock, unsigned warp) {
    if (!ordered_) return;
    if (!warp_changed_[warp].wait_for(lock, kDeadlockTimeout,
                                      [&] { return turn_ < order_.size() && order_[turn_] == warp; }))
      throw KernelFailure("warp-ordered schedule: warp " + std::to_string(warp) + " never got its turn");
  }

  std::mutex mutex_;
  std::vector<unsigned> alive_in_warp_, arrived_in_warp_, order_;
  std::vector<std::condition_variable> warp_changed_;
  unsigned expected_ = 0, arrived_ = 0;
  uint64_t phase_ = 0;
  size_t turn_ = 0;
  bool ordered_;
};

// The lanes of one warp: a barrier they may leave, the live-lane mask and two sets of exchange
// slots used alternately, so one barrier per collective suffices: a lane can only overwrite a set
// after every lane has passed the following collective's barrier, i.e. finished reading it.
struct Warp {
  explicit Warp(unsigned lanes) : expected(lanes), existing_mask(lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u),
                                  live_mask(existing_mask) {}

  void arrive_and_wait(const char* what) {
    std::unique_lock lock(mutex);
    const uint64_t current = phase;
    if (++arrived == expected) {
      arrived = 0;
      ++phase;
      changed.notify_all();
      return;
    }
    if (!changed.wait_for(lock, kDeadlockTimeout, [&] { return phase != current; }))
      throw KernelFailure(std::string(what) + " waited " + std::to_string(kDeadlockTimeout.count()) +
                          " s: a lane named in the mask never reaches it (a collective in divergent code?)");
  }

  void drop(unsigned lane) {
    std::unique_lock lock(mutex);
    live_mask.fetch_and(~(1u << lane));
    --expected;
    if (expected > 0 && arrived == expected) {
      arrived = 0;
      ++phase;
      changed.notify_all();
    }
  }

  std::mutex mutex;
  std::condition_variable changed;
  unsigned expected, arrived = 0;
  uint64_t phase = 0;
  const unsigned existing_mask;
  std::atomic<unsigned> live_mask;
  uint64_t slots[2][32] = {};
  uint64_t collective_of_slot[2][32] = {};  // which collective (per-lane count) wrote the slot
};

struct Block {
  Block(dim3 index, dim3 shape, std::byte* shared, Schedule schedule) : index(index), shared_memory(shared) {
    const unsigned threads = shape.x * shape.y * shape.z;
    std::vector<unsigned> threads_per_warp;
    for (unsigned first = 0; first < threads; first += 32) threads_per_warp.push_back(std::min(32u, threads - first));
    for (unsigned lanes : threads_per_warp) warps.push_back(std::make_unique<Warp>(lanes));
    barrier = std::make_unique<BlockBarrier>(threads_per_warp, schedule);
  }

  void record_failure(const std::string& message) {
    std::lock_guard lock(failure_mutex);
    if (failure.empty()) failure = message;
  }

  dim3 index;
  std::byte* shared_memory;
  std::vector<std::unique_ptr<Warp>> warps;
  std::unique_ptr<BlockBarrier> barrier;
  ThreadBody body = nullptr;
  const void* bound_kernel = nullptr;
  std::mutex failure_mutex;
  std::string failure;
};

// Where the calling OS thread is in the emulated grid.
struct ThreadState {
  Block* block = nullptr;
  unsigned warp = 0, lane = 0;
  uint64_t collectives = 0;  // selects the exchange-slot set
};
thread_local ThreadState current;

void run_thread(Block& block, unsigned linear) {
  threadIdx = uint3{linear % blockDim.x, (linear / blockDim.x) % blockDim.y, linear / (blockDim.x * blockDim.y)};
  blockIdx = uint3{block.index.x, block.index.y, block.index.z};
  current = ThreadState{&block, linear / 32, linear % 32, 0};
  try {
    block.barrier->begin(current.warp);
    block.body(block.bound_kernel);
  } catch (const KernelFailure& failure) {
    block.record_failure(failure.what());
  } catch (const std::exception& error) {
    block.record_failure(std::string("exception in kernel: ") + error.what());
  }
  // Returning from the kernel leaves the barriers, as an exited GPU thread does.
  block.warps[current.warp]->drop(current.lane);
  block.barrier->drop(current.warp);
  current = ThreadState{};
}

// Up to 1024 OS threads, created on demand and kept for the next blocks.
class ThreadPool {
 public:
  ~ThreadPool() {
    stopping_ = true;
    for (auto& worker : workers_) worker->start.release();
    for (auto& worker : workers_) worker->thread.join();
  }

  void run_block(Block& block, unsigned threads, dim3 block_shape, dim3 grid_shape) {
    while (workers_.size() < threads) {
      auto worker = std::make_unique<Worker>();
      const unsigned id = static_cast<unsigned>(workers_.size());
      worker->thread = std::thread([this, self = worker.get(), id] { work(*self, id); });
      workers_.push_back(std::move(worker));
    }
    block_ = &block;
    block_shape_ = block_shape;
    grid_shape_ = grid_shape;
    remaining_.store(threads, std::memory_order_relaxed);
    for (unsigned i = 0; i < threads; ++i) workers_[i]->start.release();
    finished_.acquire();
  }

 private:
  struct Worker {
    std::binary_semaphore start{0};
    std::thread thread;
  };

  // A worker touches only its own Worker: workers_ may reallocate while it waits.
  void work(Worker& self, unsigned id) {
    for (;;) {
      self.start.acquire();
      if (stopping_) return;
      blockDim = block_shape_;
      gridDim = grid_shape_;
      run_thread(*block_, id);
      if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) finished_.release();
    }
  }

  // Only the launching thread touches workers_; the semaphores order every other access.
  std::vector<std::unique_ptr<Worker>> workers_;
  Block* block_ = nullptr;
  dim3 block_shape_, grid_shape_;
  std::atomic<unsigned> remaining_{0};
  std::binary_semaphore finished_{0};
  bool stopping_ = false;
};

std::mutex& device_mutex() {  // one grid at a time on the emulated device
  static std::mutex mutex;
  return mutex;
}

// SPARSECAP_EMULATION_SCHEDULE=concurrent|warps-in-order|warps-in-reverse-order picks the
// schedule of a whole run (ctest runs the suite under each).
Schedule schedule_from_environment() {
  const char* text = std::getenv("SPARSECAP_EMULATION_SCHEDULE");
  const std::string name = text ? text : "concurrent";
  if (name == "concurrent") return Schedule::Concurrent;
  if (name == "warps-in-order") return Schedule::WarpsInOrder;
  if (name == "warps-in-reverse-order") return Schedule::WarpsInReverseOrder;
  throw std::invalid_argument("SPARSECAP_EMULATION_SCHEDULE must be concurrent, warps-in-order or "
                              "warps-in-reverse-order, got '" + name + "'");
}

struct Registry {
  std::mutex mutex;
  std::set<const void*> launched;
  std::atomic<Schedule> schedule{schedule_from_environment()};
};
Registry& registry() {
  static Registry instance;
  return instance;
}

// The CUDA runtime's per-host-thread error state; the message of the latest failure survives
// cudaGetLastError so that launch() can quote it.
thread_local cudaError_t pending_error = cudaSuccess;
thread_local cudaError_t failure_code = cudaSuccess;
thread_local std::string failure_message;

void fail_launch(cudaError_t code, std::string message) {
  pending_error = code;
  failure_code = code;
  failure_message = std::move(message);
}

}  // namespace

void run_grid(const void* kernel, dim3 grid, dim3 block, size_t dynamic_shared_bytes, cudaStream_t /*stream*/,
              ThreadBody body, const void* bound_kernel) {
  const unsigned long long threads = static_cast<unsigned long long>(block.x) * block.y * block.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || block.z > kMaxBlockZ || grid.x == 0 || grid.y == 0 ||
      grid.z == 0 || grid.x > kMaxGridX || grid.y > kMaxGridYZ || grid.z > kMaxGridYZ) {
    fail_launch(cudaErrorInvalidConfiguration,
                "invalid configuration argument (emulation: blocks hold 1 to 1024 threads with z <= 64, grids at "
                "most [2^31-1, 65535, 65535])");
    return;
  }
  if (dynamic_shared_bytes > kMaxDynamicSharedBytes) {
    fail_launch(cudaErrorInvalidValue, "invalid argument (emulation: more than 48 KiB of dynamic shared memory)");
    return;
  }
  std::lock_guard device_lock(device_mutex());
  {
    std::lock_guard lock(registry().mutex);
    registry().launched.insert(kernel);
  }
  static ThreadPool pool;
  const Schedule schedule = registry().schedule.load();
  std::vector<std::max_align_t> shared((dynamic_shared_bytes + sizeof(std::max_align_t) - 1) /
                                       sizeof(std::max_align_t));
  std::byte* shared_bytes = shared.empty() ? nullptr : reinterpret_cast<std::byte*>(shared.data());
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        // Fresh 0xFF bytes (NaN as float, -1 as integers) so reads of unwritten slots show up.
        if (shared_bytes) std::memset(shared_bytes, 0xFF, dynamic_shared_bytes);
        Block emulated(dim3(x, y, z), block, shared_bytes, schedule);
        emulated.body = body;
        emulated.bound_kernel = bound_kernel;
        pool.run_block(emulated, static_cast<unsigned>(threads), block, grid);
        if (!emulated.failure.empty()) {
          fail_launch(cudaErrorLaunchFailure, "unspecified launch failure (emulation: block [" + std::to_string(x) +
                                                  ", " + std::to_string(y) + ", " + std::to_string(z) +
                                                  "]: " + emulated.failure + ")");
          return;
        }
      }
}

void set_schedule(Schedule value) { registry().schedule.store(value); }
Schedule schedule() { return registry().schedule.load(); }

size_t distinct_kernels_launched() {
  std::lock_guard lock(registry().mutex);
  return registry().launched.size();
}

bool was_launched(const void* kernel) {
  std::lock_guard lock(registry().mutex);
  return registry().launched.count(kernel) != 0;
}

void fail_kernel(const char* message) { throw KernelFailure(message); }

std::byte* dynamic_shared_memory() { return current.block ? current.block->shared_memory : nullptr; }

void sync_block() {
  if (!current.block) throw KernelFailure("__syncthreads() called outside a kernel");
  current.block->barrier->arrive_and_wait(current.warp);
}

namespace {
Warp& checked_warp(unsigned mask, const char* intrinsic) {
  if (!current.block) throw KernelFailure(std::string(intrinsic) + " called outside a kernel");
  Warp& warp = *current.block->warps[current.warp];
  const unsigned live = warp.live_mask.load();
  if ((mask & live) != live)
    throw KernelFailure(std::string(intrinsic) + ": mask " + hex(mask) + " leaves out live lanes of " + hex(live) +
                        "; the emulation supports collectives of every live lane of a warp only");
  if (!((mask >> current.lane) & 1u))
    throw KernelFailure(std::string(intrinsic) + ": the calling lane " + std::to_string(current.lane) +
                        " is not in the mask " + hex(mask));
  return warp;
}
}  // namespace

void sync_warp(unsigned mask) { checked_warp(mask, "__syncwarp").arrive_and_wait("__syncwarp"); }

const uint64_t* exchange_in_warp(unsigned mask, uint64_t value, const char* intrinsic) {
  Warp& warp = checked_warp(mask, intrinsic);
  // Converged lanes run the same collectives, so their counts agree: a slot tagged with this
  // lane's count was written by a lane that took part in this very collective.
  const uint64_t collective = ++current.collectives;
  uint64_t* slots = warp.slots[collective & 1u];
  slots[current.lane] = value;
  warp.collective_of_slot[collective & 1u][current.lane] = collective;
  warp.arrive_and_wait(intrinsic);
  return slots;
}

bool took_part_in_last_collective(unsigned lane) {
  if (!current.block || lane >= 32) return false;
  const Warp& warp = *current.block->warps[current.warp];
  return current.collectives != 0 && warp.collective_of_slot[current.collectives & 1u][lane] == current.collectives;
}

unsigned lane_id() { return current.lane; }
unsigned live_lanes() { return current.block ? current.block->warps[current.warp]->live_mask.load() : 0u; }
unsigned warp_lanes() { return current.block ? current.block->warps[current.warp]->existing_mask : 0u; }

}  // namespace sparsecap::cuda::emulation

cudaError_t cudaGetLastError() {
  const cudaError_t error = sparsecap::cuda::emulation::pending_error;
  sparsecap::cuda::emulation::pending_error = cudaSuccess;
  return error;
}

cudaError_t cudaPeekAtLastError() { return sparsecap::cuda::emulation::pending_error; }

const char* cudaGetErrorString(cudaError_t error) {
  namespace em = sparsecap::cuda::emulation;
  if (error != cudaSuccess && error == em::failure_code) return em::failure_message.c_str();
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unknown error";
}
