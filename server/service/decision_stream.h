// DecisionStream: the server side of one StreamDecisions call.
//
// On start it registers with the EventHub (getting the hub's cursor H), then
// reads the events it owes the client up to H from the store in pages on the
// Executor (every event after the client's cursor; for followed ids, their
// terminal events, so without a cursor the outcome of each followed approval
// that is already decided), and
// then writes the live events the hub queued meanwhile (all > H). So the
// client sees strictly increasing cursors with nothing skipped or repeated.
// A stream following ids ends with OK once each has delivered its terminal
// event. While waiting it holds no thread. A reader that falls more than
// `max_backlog` events behind is ended with RESOURCE_EXHAUSTED naming the
// cursor to resume from.
#ifndef APPROVAL_SERVER_SERVICE_DECISION_STREAM_H_
#define APPROVAL_SERVER_SERVICE_DECISION_STREAM_H_

#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "approval/v1/approval.grpc.pb.h"
#include "server/service/event_hub.h"
#include "server/service/executor.h"
#include "server/service/metrics.h"
#include "server/service/token_issuer.h"
#include "server/store/store.h"

namespace approval {

class DecisionStream final : public grpc::ServerWriteReactor<v1::DecisionEvent>,
                             public EventSink {
 public:
  struct Params {
    EventFilter filter;
    int64_t after_cursor = 0;  // 0: no resume
    int max_backlog = 10000;
    // Signs the tokens of approved approvals; must outlive the stream.
    const TokenIssuer* issuer = nullptr;  // approval tokens
  };

  // Deletes itself in OnDone; create with `new` and call Start().
  DecisionStream(ApprovalStore& store, EventHub& hub, Executor& executor,
                 BrokerMetrics& metrics, Params params);
  void Start();

  void OnEvent(const std::shared_ptr<const ApprovalEvent>& event) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  using EventPtr = std::shared_ptr<const ApprovalEvent>;
  // Starts the next write, page load or Finish, whichever is due.
  void Pump();
  void LoadPage();
  void FinishLater(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A stream that follows given ids gets only their terminal events (the
  // outcome its agent waits for); one that follows everything gets every
  // state change, creations included.
  bool FollowsIds() const { return !params_.filter.approval_ids.empty(); }

  ApprovalStore& store_;
  EventHub& hub_;
  Executor& executor_;
  BrokerMetrics& metrics_;
  const Params params_;

  absl::Mutex mu_;
  int64_t hub_start_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t catchup_pos_ ABSL_GUARDED_BY(mu_) = 0;
  bool catchup_done_ ABSL_GUARDED_BY(mu_) = false;
  bool loading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int64_t last_sent_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
  std::deque<EventPtr> catchup_ ABSL_GUARDED_BY(mu_);
  std::deque<EventPtr> live_ ABSL_GUARDED_BY(mu_);
  // Followed ids whose terminal event has not been written yet.
  std::set<std::string> unfinished_ids_ ABSL_GUARDED_BY(mu_);
  // The message being written; only touched by the writer while writing_.
  v1::DecisionEvent current_;
};

// A StreamDecisions call refused before it started (bad credentials or
// arguments): finishes at once with `status`.
class RefusedStream final : public grpc::ServerWriteReactor<v1::DecisionEvent> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_DECISION_STREAM_H_
