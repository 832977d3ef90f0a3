// The small concurrency pieces of base/: a work queue, the first of several
// errors, a periodic task, a parallel loop.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "base/first_error.h"
#include "base/parallel_for.h"
#include "base/periodic_task.h"
#include "base/work_queue.h"
#include "tests/testing/status_matchers.h"

namespace equifl {
namespace {

using ::equifl::test::IsOk;
using namespace std::chrono_literals;

TEST(WorkQueueTest, PopsInOrderThenNothingOnceClosed) {
  WorkQueue<int> queue;
  queue.Push(1);
  queue.Push(2);
  EXPECT_EQ(queue.Pop(), 1);
  EXPECT_EQ(queue.Pop(), 2);
  std::future<std::optional<int>> waiting =
      std::async(std::launch::async, [&] { return queue.Pop(); });
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);  // nothing to take yet
  queue.Close();
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(waiting.get(), std::nullopt);
  queue.Push(3);
  EXPECT_EQ(queue.Pop(), std::nullopt);
}

TEST(WorkQueueTest, EveryItemReachesExactlyOneOfSeveralWorkers) {
  WorkQueue<int> queue;
  std::atomic<int> sum = 0;
  std::atomic<int> taken = 0;
  std::vector<std::thread> workers;
  for (int worker = 0; worker < 4; ++worker) {
    workers.emplace_back([&] {
      while (std::optional<int> item = queue.Pop()) {
        sum += *item;
        ++taken;
      }
    });
  }
  for (int item = 1; item <= 100; ++item) queue.Push(item);
  while (taken < 100) std::this_thread::sleep_for(1ms);
  queue.Close();
  for (std::thread& worker : workers) worker.join();
  EXPECT_EQ(sum, 5050);
}

TEST(FirstErrorTest, KeepsTheFirstError) {
  FirstError error;
  EXPECT_FALSE(error.failed());
  EXPECT_THAT(error.status(), IsOk());
  error.Set(absl::NotFoundError("first"));
  error.Set(absl::InternalError("second"));
  EXPECT_TRUE(error.failed());
  EXPECT_EQ(error.status(), absl::NotFoundError("first"));
}

TEST(ParallelForTest, RunsEveryIndexOnceOnItsWorkers) {
  for (int threads : {0, 1, 3}) {
    std::vector<std::atomic<int>> runs(1000);
    std::vector<std::atomic<int>> by_worker(ParallelWorkers(1000, threads));
    ParallelFor(1000, threads, [&](size_t worker, size_t index) {
      ++runs[index];
      ++by_worker.at(worker);
    });
    for (const std::atomic<int>& count : runs) ASSERT_EQ(count, 1) << threads << " threads";
  }
  EXPECT_EQ(ParallelWorkers(2, 8), 2u);  // never more workers than indices
  EXPECT_EQ(ParallelWorkers(0, 8), 1u);
  EXPECT_EQ(ParallelWorkers(10, 3), 3u);
  ParallelFor(0, 4, [](size_t, size_t) { ADD_FAILURE() << "no index to run"; });
}

TEST(PeriodicTaskTest, RunsRepeatedlyUntilDestroyed) {
  std::atomic<int> runs = 0;
  {
    PeriodicTask task(absl::Milliseconds(10), [&] { ++runs; });
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (runs < 3 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  }
  const int after_stop = runs;
  EXPECT_GE(after_stop, 3);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(runs, after_stop);
}

TEST(PeriodicTaskTest, DestroyedBeforeItsFirstIntervalItNeverRuns) {
  std::atomic<int> runs = 0;
  {
    PeriodicTask task(absl::Hours(1), [&] { ++runs; });
  }
  EXPECT_EQ(runs, 0);
}

}  // namespace
}  // namespace equifl
