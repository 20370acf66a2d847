// ApprovalCall: one RequireApprovalAsync from submission to its final
// answer, driven entirely by gRPC callbacks and alarms (no thread of its
// own). Internal to the client library.
//
// At any time a call has exactly one thing in flight: a RequestApproval, a
// StreamDecisions following its approval id, a backoff alarm, or the
// CancelApproval after its deadline. Each completion starts the next step or
// finishes the call; Abort() cuts whichever is in flight short. The owner
// must hold a shared_ptr to the call until `on_finished` runs: a pending
// backoff alarm refers to the call only weakly.
#ifndef APPROVAL_CLIENT_LIB_APPROVAL_CALL_H_
#define APPROVAL_CLIENT_LIB_APPROVAL_CALL_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "approval/client.h"
#include "approval/v1/approval.grpc.pb.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"

namespace approval::client_internal {

// What every call of one Client shares; immutable after construction.
struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ApprovalBroker::Stub> stub;
  std::string authorization;  // "Bearer <token>", or "" for none
  absl::Duration backoff_initial;
  absl::Duration backoff_max;
  absl::Duration rpc_timeout;
  bool cancel_on_deadline = true;
};

// Verifies that `actual` (from the broker) equals the digest of what was
// sent. DATA_LOSS naming both otherwise.
absl::Status CheckDigest(absl::string_view what, absl::string_view expected,
                         absl::string_view actual);

class ApprovalCall final : public std::enable_shared_from_this<ApprovalCall> {
 public:
  using Done = std::function<void(absl::StatusOr<Decision>)>;

  // `request` carries the idempotency key and is sent unchanged on every
  // attempt; `expected_digest` is the ActionDigest of its content.
  // `on_finished` runs after `done`, as the call's last act.
  ApprovalCall(std::shared_ptr<const Connection> connection,
               v1::RequestApprovalRequest request, std::string expected_digest,
               absl::Time deadline, Done done,
               std::function<void(const ApprovalCall*)> on_finished);

  void Start();
  // Ends the call soon with CANCELLED. Thread-safe; idempotent.
  void Abort();

 private:
  class DecisionReader;
  using Step = void (ApprovalCall::*)();

  void Submit();
  void OnSubmitted(const grpc::Status& status,
                   const v1::RequestApprovalResponse& response,
                   bool capped_by_deadline);
  void Follow();
  void OnSubscribed();
  // True once `event` settles the call (its result is then recorded).
  bool OnEvent(const v1::DecisionEvent& event);
  void OnStreamDone(const grpc::Status& status);
  // Retries `retry` after a backoff, finishes, or handles the deadline,
  // depending on `status`.
  void HandleFailure(const grpc::Status& status, bool capped_by_deadline,
                     absl::string_view rpc, Step retry);
  void RetryLater(Step step);
  void OnAlarm(Step step);
  void OnDeadline();
  void Finish(absl::StatusOr<Decision> result);

  // A context with auth metadata and `deadline`, registered as the one in
  // flight; nullptr once aborted (the caller then finishes the call).
  std::shared_ptr<grpc::ClientContext> NewContext(absl::Time deadline,
                                                  bool wait_for_ready);
  bool Aborted();

  const std::shared_ptr<const Connection> connection_;
  const v1::RequestApprovalRequest request_;
  const std::string expected_digest_;
  const absl::Time deadline_;
  Done done_;
  const std::function<void(const ApprovalCall*)> on_finished_;

  absl::Mutex mu_;
  bool aborted_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::string approval_id_ ABSL_GUARDED_BY(mu_);
  int failures_ ABSL_GUARDED_BY(mu_) = 0;  // since the broker last answered
  grpc::Status last_error_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::StatusOr<Decision>> result_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
  absl::BitGen bitgen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace approval::client_internal

#endif  // APPROVAL_CLIENT_LIB_APPROVAL_CALL_H_
