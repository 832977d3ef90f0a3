// Runs a task on its own thread every `interval` until destroyed (e.g. a progress
// line during a long round). The destructor stops the thread and waits for it.
#ifndef EQUIFL_BASE_PERIODIC_TASK_H_
#define EQUIFL_BASE_PERIODIC_TASK_H_

#include <functional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace equifl {

class PeriodicTask {
 public:
  //! Runs `task` every `interval`, the first time one interval from now.
  PeriodicTask(absl::Duration interval, std::function<void()> task)
      : interval_(interval), task_(std::move(task)), thread_([this] { Loop(); }) {}
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  ~PeriodicTask() {
    {
      absl::MutexLock lock(&mutex_);
      stopped_ = true;
      stop_.SignalAll();
    }
    thread_.join();
  }

 private:
  void Loop() {
    for (absl::Time next = absl::Now() + interval_; WaitUntil(next); next += interval_) task_();
  }

  //! Waits until `deadline`; false once stopped.
  bool WaitUntil(absl::Time deadline) {
    absl::MutexLock lock(&mutex_);
    while (!stopped_ && !stop_.WaitWithDeadline(&mutex_, deadline)) {
    }
    return !stopped_;
  }

  const absl::Duration interval_;
  const std::function<void()> task_;
  absl::Mutex mutex_;
  absl::CondVar stop_;
  bool stopped_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;  //!< Last: starts once the rest is constructed.
};

}  // namespace equifl

#endif  // EQUIFL_BASE_PERIODIC_TASK_H_
