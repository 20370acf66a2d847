// DecisionStream: the server side of one StreamDecisions call.
//
// On start it registers with the EventHub (getting the hub's cursor H), then
// reads the events it owes the client up to H from the store in pages on the
// Executor (every event after the client's cursor; for followed ids, their
// terminal events, so without a cursor the outcome of each followed approval
// that is already decided; those through the CatchUpBatcher, in one query
// shared with the other streams that opened meanwhile), and
// then writes the live events the hub queued meanwhile (all > H). So the
// client sees strictly increasing cursors with nothing skipped or repeated.
// A stream following ids ends with OK once each has delivered its terminal
// event. While waiting it holds no thread.
//
// A reader that falls more than `max_backlog` events behind is ended: its
// queued events are dropped at once, it takes no more, and it finishes with
// RESOURCE_EXHAUSTED naming the cursor to resume from. That status can only
// reach the client behind the write already in flight; a client that stops
// reading (a closed HTTP/2 flow-control window) never takes that write, so
// `overflow_grace` after falling behind the call is cancelled instead (the
// client sees CANCELLED). The grace costs no thread: a gRPC alarm, armed only
// for a stream that fell behind.
#ifndef APPROVAL_SERVER_SERVICE_DECISION_STREAM_H_
#define APPROVAL_SERVER_SERVICE_DECISION_STREAM_H_

#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "approval/v1/approval.grpc.pb.h"
#include "grpcpp/alarm.h"
#include "server/service/catch_up_batcher.h"
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
    // Following ids: also send their kReviewed and kEscalated events
    // (without ids they are always sent).
    bool include_progress = false;
    int max_backlog = 10000;
    // How long a stream that fell behind may take to deliver its
    // RESOURCE_EXHAUSTED before it is cancelled.
    absl::Duration overflow_grace = absl::Seconds(5);
    // Signs the tokens of approved approvals; must outlive the stream.
    const TokenIssuer* issuer = nullptr;  // approval tokens
    // Reads the catch-up of a stream following ids together with other
    // streams' (null: the stream reads its own); must outlive the stream.
    CatchUpBatcher* catch_up = nullptr;
  };

  // Deletes itself in OnDone; create with `new`, then call Authorized once
  // the caller is authenticated (from any thread). Until then the stream
  // does nothing: it neither subscribes nor finishes, so `ctx` (the call's
  // context, cancelled if the stream overflows and stalls) stays valid for
  // the authentication, even when the client cancels meanwhile.
  DecisionStream(grpc::CallbackServerContext* ctx, ApprovalStore& store,
                 EventHub& hub, Executor& executor, BrokerMetrics& metrics,
                 Params params);

  // The outcome of authenticating (and authorizing) the caller: the
  // requester filter to apply (nullopt: the caller sees every approval), or
  // the status the stream ends with. Call exactly once.
  void Authorized(absl::StatusOr<std::optional<std::string>> requester);

  void OnEvent(const std::shared_ptr<const ApprovalEvent>& event) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  using EventPtr = std::shared_ptr<const ApprovalEvent>;
  // What the grace alarm shares with the stream; it outlives both. The
  // alarm cancels `ctx` unless OnDone has cleared it; OnDone does not return
  // (letting gRPC free the context) while another thread is inside that
  // TryCancel. gRPC may run OnDone inline in TryCancel: that thread does
  // not wait for itself.
  struct CancelTarget {
    absl::Mutex mu;
    grpc::CallbackServerContext* ctx ABSL_GUARDED_BY(mu) = nullptr;
    bool cancelling ABSL_GUARDED_BY(mu) = false;
    std::thread::id canceller ABSL_GUARDED_BY(mu);
  };
  static void CancelNow(const std::shared_ptr<CancelTarget>& target,
                        BrokerMetrics* metrics);
  // Subscribes, sends headers and starts the catch-up.
  void Start();
  // Starts the next write, page load or Finish, whichever is due.
  void Pump();
  void LoadPage();
  // Hands the catch-up of an id-following stream to params_.catch_up.
  void SubmitCatchUp();
  // Queues a loaded catch-up page (`complete`: nothing after it is owed)
  // and deletes the stream if it ended meanwhile; then pumps.
  void OnPageLoaded(absl::StatusOr<std::vector<ApprovalEvent>> page,
                    bool complete);
  void FinishLater(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends a stream that fell behind: drops its queues, finishes it with
  // RESOURCE_EXHAUSTED and arms the grace alarm.
  void Overflow() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops every queued event (and its count in the queued-events gauge).
  void ClearQueues() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A stream that follows given ids gets only their terminal events (the
  // outcome its agent waits for); one that follows everything gets every
  // state change, creations included.
  bool FollowsIds() const { return !params_.filter.approval_ids.empty(); }
  // Whether `e` goes to this stream: every event without ids; with ids,
  // terminal events and, with include_progress, kReviewed / kEscalated ones.
  bool Wants(const ApprovalEvent& e) const;

  grpc::CallbackServerContext* const ctx_;
  ApprovalStore& store_;
  EventHub& hub_;
  Executor& executor_;
  BrokerMetrics& metrics_;
  Params params_;  // filter.requester set by Authorized, then constant

  absl::Mutex mu_;
  int64_t hub_start_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t catchup_pos_ ABSL_GUARDED_BY(mu_) = 0;
  bool catchup_done_ ABSL_GUARDED_BY(mu_) = false;
  bool loading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool authorized_ ABSL_GUARDED_BY(mu_) = false;  // Authorized was called
  bool started_ ABSL_GUARDED_BY(mu_) = false;     // subscribed to the hub
  int64_t last_sent_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
  std::deque<EventPtr> catchup_ ABSL_GUARDED_BY(mu_);
  std::deque<EventPtr> live_ ABSL_GUARDED_BY(mu_);
  // Armed when the stream fell behind; see the class comment.
  std::shared_ptr<CancelTarget> cancel_target_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Alarm> grace_alarm_ ABSL_GUARDED_BY(mu_);
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
