// Domain rules: request validation, who may decide or cancel what, and when.
// Pure functions with no I/O; stores call them inside their transactions so
// that the check and the change are atomic.
#ifndef APPROVAL_SERVER_DOMAIN_RULES_H_
#define APPROVAL_SERVER_DOMAIN_RULES_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/approval.h"

namespace approval {

// Bounds on what a request may carry. Every field has a default that suits a
// production broker; the config file may change them.
struct Limits {
  size_t max_action_bytes = 128;
  size_t max_resource_bytes = 1024;
  size_t max_parameters_bytes = 64 * 1024;
  size_t max_justification_bytes = 4096;
  size_t max_comment_bytes = 4096;
  size_t max_idempotency_key_bytes = 128;
  absl::Duration default_ttl = absl::Hours(1);
  absl::Duration min_ttl = absl::Seconds(1);
  absl::Duration max_ttl = absl::Hours(24 * 7);
};

// What a caller sent to RequestApproval, before validation.
struct RequestInput {
  std::string action;
  std::string resource;
  std::string parameters_json;  // empty means {}
  std::string justification;
  std::string idempotency_key;
  std::optional<absl::Duration> ttl;  // nullopt: Limits::default_ttl
};

// A request whose fields passed validation, before a policy rule and
// masking apply. Holds the raw canonical parameters: never store it.
struct ValidRequest {
  std::string action;
  std::string resource;              // raw
  std::string canonical_parameters;  // raw
  std::string justification;         // raw
  std::string requester;
  std::string on_behalf_of;
  std::string idempotency_key;
  std::string action_digest;
  std::optional<absl::Duration> ttl;  // as requested; nullopt: the default
};

// Validates `in` and computes its canonical parameters and action digest.
// Text fields follow text.h (action, resource, idempotency_key single-line;
// justification and parameters multi-line); parameters follow the canonical
// JSON rules of canonical.h, numbers included.
// `requester` and `on_behalf_of` are canonical principals ("" on_behalf_of:
// the requester acts for nobody). A requested ttl is checked against
// limits.min_ttl..limits.max_ttl here; a policy rule may narrow it later.
// INVALID_ARGUMENT naming the field and the bound on any violation.
absl::StatusOr<ValidRequest> ValidateRequest(
    const RequestInput& in, absl::string_view requester, const Limits& limits,
    absl::string_view on_behalf_of = "");

// The request fingerprint of `v` with its resolved `ttl`: SHA-256 (hex) over
// the digest, the raw justification, the ttl and (when set) on_behalf_of, so
// that an idempotent retry matches only the same request for the same human.
std::string RequestFingerprint(const ValidRequest& v, absl::Duration ttl);

// What is stored of `v`: the parameters, resource and justification masked
// by `masker`, the fingerprint, `ttl` and `requirement`. INVALID_ARGUMENT if
// masking fails (it only can for parameters that are not an object).
class Masker;
absl::StatusOr<NewApproval> ToNewApproval(const ValidRequest& v,
                                          const Masker& masker,
                                          absl::Duration ttl,
                                          Requirement requirement);

// INVALID_ARGUMENT unless `id` is a canonical lower-case UUID.
absl::Status ValidateApprovalId(absl::string_view id);
// INVALID_ARGUMENT naming `field` if a decision comment or cancel reason
// exceeds limits.max_comment_bytes or is not text (text.h, kMultiLine).
absl::Status ValidateComment(absl::string_view comment, const Limits& limits,
                             absl::string_view field = "comment");

// Why a call was refused, as a short snake_case label for metrics and logs
// ("self_approval", "jwt_expired", ...). It travels as a payload of the
// UNAUTHENTICATED / PERMISSION_DENIED status under kRefusalReasonUrl and is
// never sent to the client (only code and message are).
inline constexpr absl::string_view kRefusalReasonUrl =
    "type.approval.broker/refusal_reason";
// `s` with the reason attached (an OK status is returned unchanged).
absl::Status WithRefusalReason(absl::Status s, absl::string_view reason);
// The attached reason; "" when there is none.
std::string RefusalReason(const absl::Status& s);

// True when `actor` (a canonical principal) is the requester of `a` or the
// human the requester acted for: nobody decides their own request, and no
// human decides a request an agent made on their behalf.
bool IsSelfApproval(const Approval& a, absl::string_view actor);

// May `actor` decide `a` at database time `now`?
// PERMISSION_DENIED for a self-approval (checked first, whatever the state),
// with refusal reason "self_approval" (actor is the requester) or
// "on_behalf_of_self_approval" (actor is the human behind the requester);
// FAILED_PRECONDITION naming the state if `a` is terminal, or naming the
// expiry time if it is pending but past it.
absl::Status CheckDecision(const Approval& a, absl::string_view actor,
                           absl::Time now);

// May `actor`, a member of `actor_groups`, add a review to `a` at `now`?
// CheckDecision first; then PERMISSION_DENIED (reason
// "not_in_reviewer_groups") when the requirement names groups and the actor
// is in none of them, and ALREADY_EXISTS when the actor already reviewed it.
absl::Status CheckReview(const Approval& a, absl::string_view actor,
                         const std::vector<std::string>& actor_groups,
                         absl::Time now);

// True for the CheckReview refusals a store records as kDecisionRefused
// audit events: PERMISSION_DENIED and ALREADY_EXISTS.
bool IsAuditedRefusal(const absl::Status& s);

// Distinct approvals `a` still needs: approvals_required minus its approve
// reviews (one per reviewer by construction); 0 once terminal.
int ApprovalsMissing(const Approval& a);

// The state `a` reaches with its reviews so far: kApproved once enough
// distinct people approved, kDenied after a deny review when deny_ends,
// else nullopt (still pending).
std::optional<State> QuorumOutcome(const Approval& a);

// Approvers of `a` (reviewers with an approve verdict), sorted.
std::vector<std::string> ApproversOf(const Approval& a);

// May `actor` cancel `a`? PERMISSION_DENIED (reason "not_requester") unless
// `actor` is the requester; FAILED_PRECONDITION if `a` is terminal.
absl::Status CheckCancel(const Approval& a, absl::string_view actor);

// A random (version 4) UUID in canonical lower-case form.
std::string NewUuid();

// RFC 3339 UTC text with microseconds, as used in messages and details.
std::string FormatTimestamp(absl::Time t);

// Canonical JSON details recorded with each audit event.
std::string CreatedDetails(const Approval& a);
// A review: verdict, comment and the quorum after it.
std::string ReviewDetails(const Approval& a_after, const Review& r);
// The state change a quorum (or a deny) caused: the deciding reviews.
std::string QuorumDetails(const Approval& a_after);
// The state change a rule's automatic outcome caused.
std::string AutoOutcomeDetails(const Requirement& r);
std::string RefusalDetails(absl::string_view reason, Verdict v);
std::string CancelDetails(absl::string_view reason);
std::string ExpiryDetails(absl::Time expires_at);

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_RULES_H_
