// approval::Client: asks the Approval Broker for a human's approval before a
// privileged action and waits for the decision.
//
//   approval::ClientOptions options;
//   options.target = "127.0.0.1:50051";
//   options.bearer_token = token;
//   absl::StatusOr<std::unique_ptr<approval::Client>> client =
//       approval::Client::Create(options);
//   if (!client.ok()) return client.status();
//   approval::ApprovalRequest request;
//   request.action = "db.export";
//   request.resource = "postgres://prod/customers";
//   request.parameters_json = R"({"table":"customers"})";
//   return (*client)->RunIfApproved(request, absl::Now() + absl::Minutes(30),
//                                   [] { return ExportCustomers(); });
//
// Faults cost time, not correctness: a lost answer is resubmitted with the
// same idempotency key (never a second approval), a dropped connection or a
// restarted broker is reconnected to with jittered exponential backoff and
// the approval followed again until its deadline.
//
// An approval counts only with the broker's signed approval token: before
// returning an APPROVED decision the client verifies the token's Ed25519
// signature and that it approves exactly this approval of exactly what was
// sent, now. An executor elsewhere checks the token it was handed with the
// free function VerifyApprovalToken below.
#ifndef APPROVAL_CLIENT_H_
#define APPROVAL_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "approval/export.h"

namespace approval {

struct ClientOptions {
  // The broker's address in gRPC target syntax. Default: the local demo.
  std::string target = "127.0.0.1:50051";

  // Sent as "authorization: Bearer <token>" on every call. Default "": no
  // token (the identity then comes from a TLS client certificate).
  std::string bearer_token;

  // TLS to the broker. Default false: plaintext, for local use only.
  bool use_tls = false;
  // PEM file of the CAs that may sign the broker's certificate. Default "":
  // the system's roots. Only with use_tls.
  std::string tls_ca_file;
  // PEM client certificate (chain) and private key for mTLS: both or
  // neither. Default "": no client certificate. Only with use_tls.
  std::string tls_cert_file;
  std::string tls_key_file;

  // Backoff between attempts after the broker was unreachable or a stream
  // dropped: starts here, grows 1.6x per failed attempt with +-20% jitter up
  // to the maximum, and starts over once the broker answers. The channel
  // reconnects within the same bounds, and a waiting call follows its
  // approval again as soon as it has. Defaults 100 ms and 2 s.
  absl::Duration reconnect_backoff_initial = absl::Milliseconds(100);
  absl::Duration reconnect_backoff_max = absl::Seconds(2);

  // Time to live of a request whose ApprovalRequest::ttl is zero. Default
  // zero: the broker's configured default.
  absl::Duration default_ttl = absl::ZeroDuration();

  // Limit on one unary call (submission or cancellation). Default 10 s.
  absl::Duration rpc_timeout = absl::Seconds(10);

  // When the caller's deadline passes first, cancel the pending approval
  // (CancelApproval, best effort, bounded by rpc_timeout) so that nobody
  // approves an action that will not run. Default true.
  bool cancel_on_deadline = true;

  // The broker's approval-token keys: one SubjectPublicKeyInfo PEM key (as
  // `approvalctl signing-key` prints it) or a JWKS document of Ed25519 keys
  // (GetSigningKey's jwks_json, `approvalctl signing-key -o jwks`); a token
  // is checked with the key its kid names. Default "": the key set is
  // fetched once with GetSigningKey over the authenticated channel on the
  // first approved decision, kept, and fetched again once when a token does
  // not verify with the keys kept (the broker's key changed). Pinning is
  // recommended in production: then only a token signed by a pinned key
  // counts, whatever the broker (or whoever answers in its place) says.
  std::string broker_public_key_pem;
};

// What the agent asks to do.
struct ApprovalRequest {
  std::string action;    // e.g. "db.export"; the broker validates it
  std::string resource;  // e.g. "postgres://prod/customers"
  // The parameters the reviewer approves, as a JSON object. Default "": {}.
  std::string parameters_json;
  std::string justification;  // shown to the reviewer; default ""
  // How long the approval may stay pending. Default zero:
  // ClientOptions::default_ttl.
  absl::Duration ttl = absl::ZeroDuration();
};

// The final states of an approval.
enum class DecisionState { kApproved, kDenied, kExpired, kCancelled };

// "APPROVED", "DENIED", "EXPIRED" or "CANCELLED".
APPROVAL_CLIENT_EXPORT absl::string_view DecisionStateName(DecisionState state);

// The outcome of an approval, as the broker recorded it. An APPROVED
// decision has been checked against its approval token: the fields taken
// from the token say so.
struct Decision {
  std::string approval_id;
  DecisionState state = DecisionState::kExpired;
  // Who approved, denied or cancelled; "" when the approval expired.
  std::string decided_by;
  std::string comment;
  // Lower-case hex SHA-256 of the canonical {action, parameters, resource};
  // verified to equal the digest of what this client sent.
  std::string action_digest;
  uint64_t cursor = 0;  // the decision's event cursor on the broker
  absl::Time decide_time = absl::InfinitePast();  // when it became final
  // The policy rule that applied (from the verified token when approved).
  std::string rule;
  // When approved: the broker's signed approval token, verified; hand it to
  // an executor that checks it with VerifyApprovalToken. "" otherwise.
  std::string approval_token;
  // When approved: who approved, from the verified token, sorted; empty
  // when the rule approved automatically or the decision is not APPROVED.
  std::vector<std::string> approvers;
};

// Thread-safe: one Client serves any number of concurrent calls from any
// threads. Destroying it cancels the calls still running (their `done` gets
// CANCELLED) and waits until every `done` has returned; it must not be
// destroyed from inside a `done`. An agent's own tests may fake the broker by
// implementing RequireApprovalAsync.
class APPROVAL_CLIENT_EXPORT Client {
 public:
  // Connects lazily to options.target. INVALID_ARGUMENT naming the field
  // when an option is out of range, a TLS file is unreadable, or a
  // certificate comes without its key.
  static absl::StatusOr<std::unique_ptr<Client>> Create(
      const ClientOptions& options);

  virtual ~Client() = default;

  // Submits `request` under a fresh random 128-bit idempotency key and
  // waits on the broker's decision stream until the approval is final or
  // `deadline` passes. Does not block: `done` runs exactly once, on a gRPC
  // thread or, when the request is refused before anything is sent, on the
  // calling thread before this returns. `done` must not block for long.
  //
  // OK with the Decision for every final state (approved, denied, expired,
  // cancelled): the caller branches on Decision::state. Errors:
  //   INVALID_ARGUMENT   the request (e.g. parameters not a JSON object,
  //                      negative ttl) or the broker refused it;
  //   DEADLINE_EXCEEDED  `deadline` passed first; with cancel_on_deadline
  //                      the pending approval was cancelled (best effort;
  //                      the message says whether it worked);
  //   DATA_LOSS          the broker's approval or decision carries an
  //                      action_digest other than that of what was sent, or
  //                      an approval comes without an approval token or with
  //                      one that does not verify (signature, key, approval
  //                      id, digest of what was sent, execution window at
  //                      the time it arrived): it is not an approval of
  //                      this action, do not act;
  //   UNAUTHENTICATED, PERMISSION_DENIED, ALREADY_EXISTS, NOT_FOUND, and
  //   any other code the broker answers that a retry cannot fix, at once;
  //   CANCELLED          the Client was destroyed meanwhile.
  // What a retry can fix is retried until `deadline`: UNAVAILABLE,
  // RESOURCE_EXHAUSTED, ABORTED, a cancelled or timed-out attempt, a dropped
  // stream, fetching the signing key. The submission is resent with the
  // same idempotency key, so a lost answer never creates a second approval.
  virtual void RequireApprovalAsync(
      const ApprovalRequest& request, absl::Time deadline,
      std::function<void(absl::StatusOr<Decision>)> done) = 0;

  // RequireApprovalAsync, blocking the calling thread until `done` would
  // run. Same results.
  absl::StatusOr<Decision> RequireApproval(const ApprovalRequest& request,
                                           absl::Time deadline);

  // Runs `action` only if the approval is granted, and returns its status.
  // Otherwise returns why not, without running it: PERMISSION_DENIED
  // "approval <id> denied by <reviewer>: <comment>", DEADLINE_EXCEEDED when
  // the approval expired or `deadline` passed, CANCELLED when it was
  // withdrawn, or the error of RequireApproval.
  absl::Status RunIfApproved(const ApprovalRequest& request,
                             absl::Time deadline,
                             absl::FunctionRef<absl::Status()> action);
};

// What a verified approval token approves.
struct ApprovedAction {
  std::string approval_id;
  std::string action;
  // Lower-case hex SHA-256 of the canonical {action, parameters, resource}.
  std::string action_digest;
  // Who approved, sorted; empty when the rule approved automatically.
  std::vector<std::string> approvers;
  std::string rule;  // the policy rule that applied
  absl::Time approved_at;
  // The action may run in [not_before, not_after).
  absl::Time not_before;
  absl::Time not_after;
  std::string key_id;    // the broker key that signed the token (kid)
  std::string issuer;    // the token's iss
  std::string audience;  // the token's aud; "" when it has none
};

// For an executor that is handed `token` with `request` and verifies it
// offline: OK with the claims when `token` (a compact JWS, see
// approval.proto SigningKey) is signed by a key of `broker_public_key_pem`
// (one SubjectPublicKeyInfo PEM key, or a JWKS document such as
// GetSigningKey's jwks_json: the key named by the token's kid), approves
// exactly `request` (its canonical action digest, computed here as the client
// computes it) and `now` lies in its execution window. Errors, each naming what
// failed:
//   INVALID_ARGUMENT    `request` cannot be encoded (parameters not a JSON
//                       object, ...), or the keys are not an Ed25519 PEM
//                       public key or JWKS of Ed25519 keys;
//   UNAUTHENTICATED     the token is malformed, signed by another key, or
//                       its signature does not verify;
//   PERMISSION_DENIED   the token approves something else (another digest);
//   FAILED_PRECONDITION `now` is before not_before or at/after not_after.
// Pure and thread-safe; no I/O.
APPROVAL_CLIENT_EXPORT absl::StatusOr<ApprovedAction> VerifyApprovalToken(
    absl::string_view token, absl::string_view broker_public_key_pem,
    const ApprovalRequest& request, absl::Time now = absl::Now());

}  // namespace approval

#endif  // APPROVAL_CLIENT_H_
