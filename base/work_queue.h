// A queue several threads take work from: Pop waits for an item, and once Close
// is called every waiting and every later Pop returns nullopt (items still queued
// are dropped). Thread-safe.
#ifndef EQUIFL_BASE_WORK_QUEUE_H_
#define EQUIFL_BASE_WORK_QUEUE_H_

#include <deque>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace equifl {

template <typename T>
class WorkQueue {
 public:
  //! Adds `item` and wakes one waiting Pop.
  void Push(T item) {
    absl::MutexLock lock(&mutex_);
    items_.push_back(std::move(item));
    ready_.Signal();
  }

  //! The oldest item, waiting for one; nullopt once closed.
  std::optional<T> Pop() {
    absl::MutexLock lock(&mutex_);
    while (!closed_ && items_.empty()) ready_.Wait(&mutex_);
    if (closed_) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  //! Ends the queue: wakes every waiting Pop.
  void Close() {
    absl::MutexLock lock(&mutex_);
    closed_ = true;
    ready_.SignalAll();
  }

 private:
  absl::Mutex mutex_;
  absl::CondVar ready_;
  std::deque<T> items_ ABSL_GUARDED_BY(mutex_);
  bool closed_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace equifl

#endif  // EQUIFL_BASE_WORK_QUEUE_H_
