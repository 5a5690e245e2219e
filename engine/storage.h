#pragma once
#include <cstddef>
#include <functional>
#include <memory>

#include "engine/device.h"

namespace sparsecap {

// A block of bytes on one device. The backend that allocated it supplies the deleter, so a CUDA
// allocation returns to its caching allocator and a CPU one to the aligned heap.
class Storage {
 public:
  Storage(void* data, size_t bytes, Device device, std::function<void(void*)> deleter)
      : data_(data), bytes_(bytes), device_(device), deleter_(std::move(deleter)) {}
  ~Storage() {
    if (data_ && deleter_) deleter_(data_);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_;
  size_t bytes_;
  Device device_;
  std::function<void(void*)> deleter_;
};

}  // namespace sparsecap
