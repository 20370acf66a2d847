#include "server/store/write_queue.h"

#include <algorithm>
#include <utility>

namespace approval {

WriteQueue::WriteQueue(Options options, BatchFn apply)
    : options_(options), apply_(std::move(apply)) {}

void WriteQueue::Run(QueuedWrite& write) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(&write);
  while (!write.done_ && queue_.front() != &write) write.wake_.Wait(&mu_);
  if (write.done_) return;  // a leader applied it

  // This writer leads. Give the batch a moment to fill, if configured.
  const size_t max_batch = static_cast<size_t>(std::max(1, options_.max_batch));
  if (options_.max_wait > absl::ZeroDuration() && queue_.size() < max_batch) {
    auto full = [this, max_batch]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return queue_.size() >= max_batch;
    };
    mu_.AwaitWithTimeout(absl::Condition(&full), options_.max_wait);
  }
  const size_t n = std::min(queue_.size(), max_batch);
  std::vector<QueuedWrite*> batch(queue_.begin(), queue_.begin() + n);
  // Writers that arrive now queue behind the batch; none of them can lead
  // before it is done, since the leader stays at the front.
  mu_.Unlock();
  apply_(batch);
  mu_.Lock();
  for (QueuedWrite* member : batch) {
    queue_.pop_front();
    member->done_ = true;
    if (member != &write) member->wake_.Signal();
  }
  if (!queue_.empty()) queue_.front()->wake_.Signal();
}

}  // namespace approval
