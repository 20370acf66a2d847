// ApprovalCall: one RequireApprovalAsync from submission to its final
// answer, driven entirely by gRPC callbacks and alarms (no thread of its
// own). Internal to the client library.
//
// At any time a call has exactly one thing in flight: a RequestApproval, a
// StreamDecisions following its approval id, a GetSigningKey to verify an
// approval's token, a backoff alarm, or the CancelApproval after its
// deadline. Each completion starts the next step or
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

// The broker's approval-token keys (one PEM key or a JWKS document,
// wire/approval_token.h ParseApprovalKeys): pinned in the options, or
// fetched and kept for every call of one Client. Thread-safe.
class SigningKeyCache final {
 public:
  // `pinned_pem`: ClientOptions::broker_public_key_pem ("" for none).
  explicit SigningKeyCache(std::string pinned_pem);

  bool pinned() const { return pinned_; }
  // The pinned key, else the last one fetched; "" before the first fetch.
  std::string Get() const;
  // Keeps a freshly fetched key (never called when pinned).
  void Put(std::string pem);

 private:
  const bool pinned_;
  mutable absl::Mutex mu_;
  std::string pem_ ABSL_GUARDED_BY(mu_);
};

// What every call of one Client shares; immutable after construction except
// for the key cache, which guards itself.
struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ApprovalBroker::Stub> stub;
  std::string authorization;  // "Bearer <token>", or "" for none
  absl::Duration backoff_initial;
  absl::Duration backoff_max;
  absl::Duration rpc_timeout;
  bool cancel_on_deadline = true;
  std::unique_ptr<SigningKeyCache> signing_key;
};

// Verifies that `actual` (from the broker) equals the digest of what was
// sent. DATA_LOSS naming both otherwise.
absl::Status CheckDigest(absl::string_view what, absl::string_view expected,
                         absl::string_view actual);

// The claims of `token` when it is signed by a key of `public_key_pem` (a
// PEM key or a JWKS document) and approves `action_digest` (and
// `approval_id`, unless empty) at `now`. INVALID_ARGUMENT when the keys do
// not parse; otherwise the
// codes of VerifyApprovalToken and CheckClaims (server/domain).
absl::StatusOr<ApprovedAction> VerifyToken(absl::string_view token,
                                           absl::string_view public_key_pem,
                                           absl::string_view action_digest,
                                           absl::string_view approval_id,
                                           absl::Time now);

class ApprovalCall final : public std::enable_shared_from_this<ApprovalCall> {
 public:
  using Done = std::function<void(absl::StatusOr<Decision>)>;

  // `request` carries the idempotency key and is sent unchanged on every
  // attempt; `expected_digest` is the ActionDigest of its content.
  // `on_finished` runs after `done`, as the call's last act. `lease` is
  // released when the call is destroyed, after its reference to
  // `connection`: the owner waits for it before dropping the channel, so a
  // channel is never destroyed on one of gRPC's callback threads (gRPC 1.51
  // would join that thread from itself and abort).
  ApprovalCall(std::shared_ptr<const Connection> connection,
               v1::RequestApprovalRequest request, std::string expected_digest,
               absl::Time deadline, Done done,
               std::function<void(const ApprovalCall*)> on_finished,
               std::shared_ptr<void> lease);

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
  // Finishes with the approved decision once its token verifies with the
  // broker's key, fetching the key first if none is kept (or the one kept
  // failed and was not pinned).
  void VerifyApproved();
  void FetchSigningKey();
  void OnSigningKey(const grpc::Status& status, const v1::SigningKey& key,
                    bool capped_by_deadline);
  // The approved decision, or DATA_LOSS, by the token checked against `pem`.
  absl::StatusOr<Decision> Verified(Decision decision, absl::string_view pem);
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
  // NewContext for one unary attempt, due at rpc_timeout or the call's
  // deadline, whichever is first (then *capped_by_deadline). nullptr when
  // the call has ended instead (deadline passed, or aborted).
  std::shared_ptr<grpc::ClientContext> BeginUnaryAttempt(
      bool* capped_by_deadline);
  bool Aborted();

  // Declared first, so destroyed last: after connection_.
  const std::shared_ptr<void> lease_;
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
  // An approved decision waiting for its token to be verified.
  std::optional<Decision> unverified_ ABSL_GUARDED_BY(mu_);
  bool key_fetched_ ABSL_GUARDED_BY(mu_) = false;  // by this call
  std::shared_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
  absl::BitGen bitgen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace approval::client_internal

#endif  // APPROVAL_CLIENT_LIB_APPROVAL_CALL_H_
