#pragma once
// A background thread that runs a producer ahead of the consumer (decoding and feature loading
// overlap with the model's compute). The producer returns items until it returns nullopt; an
// exception in the producer is rethrown by next() in the consumer's thread, in order.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace sparsecap::data {

template <typename Item>
class Prefetcher {
 public:
  using Producer = std::function<std::optional<Item>()>;

  // `depth`: how many finished items may wait; the producer blocks when that many are ready.
  explicit Prefetcher(Producer producer, size_t depth = 2) : producer_(std::move(producer)), depth_(depth) {
    if (depth_ < 1) throw std::invalid_argument("prefetch depth must be >= 1");
    worker_ = std::thread([this] { run(); });
  }

  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  ~Prefetcher() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    space_available_.notify_all();
    worker_.join();
  }

  // The next item in production order, nullopt once the producer is exhausted.
  std::optional<Item> next() {
    std::unique_lock lock(mutex_);
    item_available_.wait(lock, [this] { return !ready_.empty() || finished_; });
    if (ready_.empty()) {
      if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
      return std::nullopt;
    }
    Item item = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    space_available_.notify_one();
    return item;
  }

 private:
  void run() {
    try {
      while (true) {
        {
          std::unique_lock lock(mutex_);
          space_available_.wait(lock, [this] { return ready_.size() < depth_ || stopping_; });
          if (stopping_) break;
        }
        std::optional<Item> item = producer_();  // outside the lock: this is the slow part
        std::lock_guard lock(mutex_);
        if (!item) break;
        ready_.push_back(std::move(*item));
        item_available_.notify_one();
      }
    } catch (...) {
      std::lock_guard lock(mutex_);
      error_ = std::current_exception();
    }
    std::lock_guard lock(mutex_);
    finished_ = true;
    item_available_.notify_all();
  }

  Producer producer_;
  size_t depth_;
  std::mutex mutex_;
  std::condition_variable item_available_, space_available_;
  std::deque<Item> ready_;
  std::exception_ptr error_;
  bool finished_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace sparsecap::data
