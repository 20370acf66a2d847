#ifndef APPROVAL_SERVER_DOMAIN_REFUSAL_REASON_H_
#define APPROVAL_SERVER_DOMAIN_REFUSAL_REASON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace approval {

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

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_REFUSAL_REASON_H_
