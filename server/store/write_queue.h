// WriteQueue: group commit for a store's writes, after leveldb's writer
// queue (DBImpl::Write).
//
// Each writer enqueues itself and waits. The writer at the front becomes the
// leader: it takes the writers queued behind it (at most max_batch, after
// waiting up to max_wait for that many to arrive), applies them all with
// one call of the batch function, marks each done, and hands leadership to
// the next writer in line. So at most one batch per queue is being applied
// at any time, and a writer that arrived while a batch was being applied
// joins the next one instead of queuing behind each of its predecessors'
// commits.
//
// What "applies" means is up to the batch function: it must set every
// member's outcome (the queue knows nothing of storage).
// Thread-safe.
#ifndef APPROVAL_SERVER_STORE_WRITE_QUEUE_H_
#define APPROVAL_SERVER_STORE_WRITE_QUEUE_H_

#include <deque>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace approval {

// One queued write. Subclass it with the write's input and result.
class QueuedWrite {
 public:
  virtual ~QueuedWrite() = default;

 private:
  friend class WriteQueue;
  bool done_ = false;   // guarded by the queue's mutex
  absl::CondVar wake_;  // done, or now at the front of the queue
};

class WriteQueue final {
 public:
  struct Options {
    // Most writes applied in one batch. At least 1.
    int max_batch = 64;
    // How long a new leader waits for max_batch writes to be queued before
    // it applies what it has. Zero (the default): take what is queued; a
    // batch then holds the writes that arrived while the previous one was
    // being applied, so batches grow with the load by themselves.
    absl::Duration max_wait = absl::ZeroDuration();
  };
  // Applies one batch, in queue order; returns when every member's outcome
  // is set. Never called concurrently with itself.
  using BatchFn = std::function<void(const std::vector<QueuedWrite*>& batch)>;

  WriteQueue(Options options, BatchFn apply);
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // Queues `write` and returns once a batch containing it was applied (by
  // this thread as the leader or by another one).
  void Run(QueuedWrite& write);

 private:
  const Options options_;
  const BatchFn apply_;
  absl::Mutex mu_;
  std::deque<QueuedWrite*> queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace approval

#endif  // APPROVAL_SERVER_STORE_WRITE_QUEUE_H_
