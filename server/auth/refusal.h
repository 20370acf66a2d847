// Refusals of a caller, built one way everywhere so that each carries:
//   - a code: UNAUTHENTICATED (bad or missing credentials) or
//     PERMISSION_DENIED (authenticated, but not allowed);
//   - a message for the client, saying which check failed in terms an
//     operator recognises, without secrets, token contents or configured
//     values an attacker could use;
//   - a reason, a stable snake_case label for the refusal metric
//     (RefusalReason in server/domain/refusal_reason.h);
//   - a detail for the operator's log only (may quote sanitized token or
//     certificate values and the configured ones).
// Reason and detail travel as status payloads, which never reach the client.
#ifndef APPROVAL_SERVER_AUTH_REFUSAL_H_
#define APPROVAL_SERVER_AUTH_REFUSAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace approval {

inline constexpr absl::string_view kRefusalDetailUrl =
    "type.approval.broker/refusal_detail";

absl::Status Unauthenticated(absl::string_view reason,
                             absl::string_view message,
                             absl::string_view detail = "");
absl::Status PermissionDenied(absl::string_view reason,
                              absl::string_view message,
                              absl::string_view detail = "");

// The detail attached to `s`; "" when there is none.
std::string RefusalDetail(const absl::Status& s);

// `value` made safe for a log line: control characters escaped, at most 80
// characters, quoted.
std::string ForLog(absl::string_view value);

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_REFUSAL_H_
