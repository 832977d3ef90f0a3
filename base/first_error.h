// The first error any of several threads met, for the thread that waits on them
// all: later errors are dropped, and failed() is a cheap check for loops.
// Thread-safe.
#ifndef EQUIFL_BASE_FIRST_ERROR_H_
#define EQUIFL_BASE_FIRST_ERROR_H_

#include <atomic>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace equifl {

class FirstError {
 public:
  //! Records `status` (not OK) unless an error was recorded before.
  void Set(absl::Status status) {
    absl::MutexLock lock(&mutex_);
    if (status_.ok()) status_ = std::move(status);
    failed_ = true;
  }
  //! Whether an error was recorded.
  bool failed() const { return failed_; }
  //! The first error; OK when none was recorded.
  absl::Status status() const {
    absl::MutexLock lock(&mutex_);
    return status_;
  }

 private:
  mutable absl::Mutex mutex_;
  absl::Status status_ ABSL_GUARDED_BY(mutex_);
  std::atomic<bool> failed_{false};
};

}  // namespace equifl

#endif  // EQUIFL_BASE_FIRST_ERROR_H_
