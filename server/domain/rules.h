// Domain rules: request validation, who may decide or cancel what, and when.
// Pure functions with no I/O; stores call them inside their transactions so
// that the check and the change are atomic.
#ifndef APPROVAL_SERVER_DOMAIN_RULES_H_
#define APPROVAL_SERVER_DOMAIN_RULES_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

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

// Validates `in` and computes its canonical parameters, action digest and
// request fingerprint. `requester` and `on_behalf_of` are canonical
// principals ("" on_behalf_of: the requester acts for nobody; a non-empty one
// is part of the fingerprint, so an idempotent retry for another human does
// not match). INVALID_ARGUMENT naming the field and the bound on any
// violation.
absl::StatusOr<NewApproval> ValidateRequest(
    const RequestInput& in, absl::string_view requester, const Limits& limits,
    absl::string_view on_behalf_of = "");

// INVALID_ARGUMENT unless `id` is a canonical lower-case UUID.
absl::Status ValidateApprovalId(absl::string_view id);
// INVALID_ARGUMENT if a decision or cancel comment exceeds its bound or is
// not valid UTF-8 text.
absl::Status ValidateComment(absl::string_view comment, const Limits& limits);

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

// May `actor` cancel `a`? PERMISSION_DENIED (reason "not_requester") unless
// `actor` is the requester; FAILED_PRECONDITION if `a` is terminal.
absl::Status CheckCancel(const Approval& a, absl::string_view actor);

// A random (version 4) UUID in canonical lower-case form.
std::string NewUuid();

// RFC 3339 UTC text with microseconds, as used in messages and details.
std::string FormatTimestamp(absl::Time t);

// Canonical JSON details recorded with each audit event.
std::string CreatedDetails(const Approval& a);
std::string DecisionDetails(Verdict v, absl::string_view comment);
std::string RefusalDetails(absl::string_view reason, Verdict v);
std::string CancelDetails(absl::string_view reason);
std::string ExpiryDetails(absl::Time expires_at);

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_RULES_H_
