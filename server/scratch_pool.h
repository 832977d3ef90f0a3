// Model-sized scratch buffers for uploads being decoded, at most `capacity` out at
// once: an upload waits for a buffer instead of allocating one, so the server's
// memory stays bounded however many clients upload together, and buffers are
// reused between uploads (fresh memory costs a page fault per 4 KiB on first touch).
// A buffer goes back to the pool when its Buffer handle is destroyed, so no path,
// refused uploads included, can keep one out.
#ifndef EQUIFL_SERVER_SCRATCH_POOL_H_
#define EQUIFL_SERVER_SCRATCH_POOL_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace equifl::server {

template <typename T>
class ScratchPool {
 public:
  //! A buffer lent by the pool (or, default-constructed, by nobody); movable.
  class Buffer {
   public:
    Buffer() = default;
    Buffer(Buffer&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), values_(std::move(other.values_)) {}
    Buffer& operator=(Buffer&& other) noexcept {
      if (this != &other) {
        Release();
        pool_ = std::exchange(other.pool_, nullptr);
        values_ = std::move(other.values_);
      }
      return *this;
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { Release(); }

    //! The values: empty or of an earlier size when taken; resize them.
    std::vector<T>& values() { return values_; }
    const std::vector<T>& values() const { return values_; }

   private:
    friend class ScratchPool;
    Buffer(ScratchPool* pool, std::vector<T> values) : pool_(pool), values_(std::move(values)) {}
    void Release() {
      if (pool_ != nullptr) std::exchange(pool_, nullptr)->GiveBack(std::move(values_));
    }

    ScratchPool* pool_ = nullptr;
    std::vector<T> values_;
  };

  explicit ScratchPool(uint32_t capacity) : capacity_(capacity) {}

  //! A buffer, waiting while `capacity` are out.
  Buffer Take() {
    absl::MutexLock lock(&mutex_);
    while (out_ >= capacity_) returned_.Wait(&mutex_);
    ++out_;
    if (free_.empty()) return Buffer(this, {});
    std::vector<T> values = std::move(free_.back());
    free_.pop_back();
    return Buffer(this, std::move(values));
  }

 private:
  void GiveBack(std::vector<T> values) {
    absl::MutexLock lock(&mutex_);
    --out_;
    free_.push_back(std::move(values));
    returned_.Signal();
  }

  const uint32_t capacity_;
  absl::Mutex mutex_;
  absl::CondVar returned_;
  std::vector<std::vector<T>> free_ ABSL_GUARDED_BY(mutex_);
  uint32_t out_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_SCRATCH_POOL_H_
