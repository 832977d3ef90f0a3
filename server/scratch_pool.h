// Model-sized scratch buffers for uploads being decoded, at most `capacity` out at
// once: an upload waits for a buffer instead of allocating one, so the server's
// memory stays bounded however many clients upload together, and buffers are
// reused between uploads (fresh memory costs a page fault per 4 KiB on first touch).
#ifndef EQUIFL_SERVER_SCRATCH_POOL_H_
#define EQUIFL_SERVER_SCRATCH_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace equifl::server {

template <typename T>
class ScratchPool {
 public:
  explicit ScratchPool(uint32_t capacity) : capacity_(capacity) {}

  //! A buffer (empty or of an earlier size: resize it), waiting while `capacity`
  //! are out.
  std::vector<T> Take() {
    std::unique_lock lock(mutex_);
    returned_.wait(lock, [this] { return out_ < capacity_; });
    ++out_;
    if (free_.empty()) return {};
    std::vector<T> buffer = std::move(free_.back());
    free_.pop_back();
    return buffer;
  }

  //! Returns a buffer that Take gave.
  void GiveBack(std::vector<T> buffer) {
    {
      std::lock_guard lock(mutex_);
      --out_;
      free_.push_back(std::move(buffer));
    }
    returned_.notify_one();
  }

 private:
  const uint32_t capacity_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::vector<T>> free_ ABSL_GUARDED_BY(mutex_);
  uint32_t out_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_SCRATCH_POOL_H_
