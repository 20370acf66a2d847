// WriteQueue (write_queue.h): every write is applied once, by one batch at a
// time, in batches no larger than max_batch, and its writer returns only
// after its batch was applied.
#include "server/store/write_queue.h"

#include <catch2/catch.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace approval {
namespace {

struct CountedWrite : QueuedWrite {
  int applied = 0;  // written by the batch function only
};

TEST_CASE("Each write is applied once, one batch at a time, within max_batch",
          "[write_queue]") {
  absl::Mutex mu;
  int running = 0, overlapped = 0, largest = 0, batches = 0;
  WriteQueue queue(WriteQueue::Options{8, absl::ZeroDuration()},
                   [&](const std::vector<QueuedWrite*>& batch) {
                     {
                       absl::MutexLock lock(&mu);
                       if (++running > 1) ++overlapped;
                       largest =
                           std::max(largest, static_cast<int>(batch.size()));
                       ++batches;
                     }
                     for (QueuedWrite* w : batch) {
                       ++static_cast<CountedWrite*>(w)->applied;
                     }
                     absl::MutexLock lock(&mu);
                     --running;
                   });
  constexpr int kThreads = 16, kEach = 200;
  // Writers hold a CondVar: neither copyable nor movable.
  std::vector<std::unique_ptr<CountedWrite[]>> writes;
  for (int t = 0; t < kThreads; ++t) {
    writes.push_back(std::make_unique<CountedWrite[]>(kEach));
  }
  std::vector<int> seen_after_return(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        queue.Run(writes[t][i]);
        // Applied before Run returned.
        seen_after_return[t] += writes[t][i].applied;
      }
    });
  }
  for (std::thread& t : threads) t.join();

  for (int t = 0; t < kThreads; ++t) {
    CHECK(seen_after_return[t] == kEach);
    for (int i = 0; i < kEach; ++i) CHECK(writes[t][i].applied == 1);
  }
  CHECK(overlapped == 0);
  CHECK(largest <= 8);
  CHECK(batches <= kThreads * kEach);
}

TEST_CASE("With max_wait the leader waits for a full batch", "[write_queue]") {
  absl::Mutex mu;
  std::vector<size_t> sizes;
  WriteQueue queue(WriteQueue::Options{4, absl::Seconds(30)},
                   [&](const std::vector<QueuedWrite*>& batch) {
                     absl::MutexLock lock(&mu);
                     sizes.push_back(batch.size());
                   });
  CountedWrite writes[4];
  std::vector<std::thread> threads;
  for (CountedWrite& w : writes) {
    threads.emplace_back([&queue, &w] { queue.Run(w); });
  }
  for (std::thread& t : threads) t.join();
  CHECK(sizes == std::vector<size_t>{4});
}

}  // namespace
}  // namespace approval
