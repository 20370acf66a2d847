// Executor: a fixed pool of threads for blocking work (database calls), so
// gRPC's callback threads never wait on the database. Sized by
// worker_threads (config.h): more threads than database connections, since
// a write mostly waits for its group commit (postgres_store.h), and the
// writes waiting together make the next batch.
#ifndef APPROVAL_SERVER_SERVICE_EXECUTOR_H_
#define APPROVAL_SERVER_SERVICE_EXECUTOR_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace approval {

class Executor final {
 public:
  explicit Executor(int threads);
  ~Executor();  // Stop()

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task`; it runs on one of the pool's threads. Thread-safe.
  void Submit(std::function<void()> task);

  // Runs every task already submitted, then joins the threads; tasks
  // submitted afterwards are dropped. Idempotent.
  void Stop();

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_EXECUTOR_H_
