// Runs body(worker, index) for every index in [0, count) on up to `threads`
// threads (the calling thread is worker 0), each taking the next index as it
// finishes the last, so a thread slowed by other work on the machine takes fewer.
// `worker` (< ParallelWorkers(count, threads)) lets a body use per-thread scratch.
// Which worker runs an index is not fixed, so an index's result must not depend
// on it: bodies write each index's result to its own place.
#ifndef EQUIFL_BASE_PARALLEL_FOR_H_
#define EQUIFL_BASE_PARALLEL_FOR_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace equifl {

//! The threads ParallelFor runs for `count` indices: `threads` (0: every core), at
//! most one per index and at least one.
inline size_t ParallelWorkers(size_t count, int threads) {
  const size_t wanted =
      threads > 0 ? static_cast<size_t>(threads)
                  : std::max<size_t>(1, static_cast<size_t>(std::thread::hardware_concurrency()));
  return std::max<size_t>(1, std::min(wanted, count));
}

template <typename Body>
void ParallelFor(size_t count, int threads, const Body& body) {
  std::atomic<size_t> next{0};
  const auto work = [&](size_t worker) {
    for (size_t index = next++; index < count; index = next++) body(worker, index);
  };
  std::vector<std::thread> pool;
  for (size_t worker = 1; worker < ParallelWorkers(count, threads); ++worker) {
    pool.emplace_back(work, worker);
  }
  work(0);
  for (std::thread& thread : pool) thread.join();
}

}  // namespace equifl

#endif  // EQUIFL_BASE_PARALLEL_FOR_H_
