// CatchUpBatcher: reads the past events of many newly opened streams that
// follow approval ids with one store query, so a reconnect storm (every
// waiting agent reopening its stream after a restart) costs a few queries
// instead of one per stream.
//
// Requests queue while a query runs; the next query, on the Executor, reads
// the terminal events of the union of the queued requests' ids over the
// union of their cursor ranges, and each request gets exactly its own. An
// approval has at most one terminal event, so a query for N ids returns at
// most N events and needs no paging.
#ifndef APPROVAL_SERVER_SERVICE_CATCH_UP_BATCHER_H_
#define APPROVAL_SERVER_SERVICE_CATCH_UP_BATCHER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/service/executor.h"
#include "server/store/store.h"

namespace approval {

class CatchUpBatcher final {
 public:
  struct Request {
    std::vector<std::string> approval_ids;  // must not be empty
    std::optional<std::string> requester;   // only this requester's
    int64_t after_cursor = 0;               // exclusive
    int64_t up_to_cursor = 0;               // inclusive
  };
  using Callback =
      std::function<void(absl::StatusOr<std::vector<ApprovalEvent>>)>;

  // At most `max_ids` ids per query (a request with more gets a query of
  // its own). `store` and `executor` must outlive the batcher.
  CatchUpBatcher(ApprovalStore& store, Executor& executor, int max_ids = 2000);

  // Calls `done` once, on an executor thread, with the terminal events of
  // request.approval_ids in (after_cursor, up_to_cursor] that match
  // request.requester, ascending by cursor; or with the store's error.
  // Thread-safe.
  void Submit(Request request, Callback done);

 private:
  struct Pending {
    Request request;
    Callback done;
  };
  // Answers queued requests, one query per batch, until the queue is empty.
  void Drain();
  void Answer(std::vector<Pending> batch);

  ApprovalStore& store_;
  Executor& executor_;
  const size_t max_ids_;
  absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;  // a Drain is queued/running
};

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_CATCH_UP_BATCHER_H_
