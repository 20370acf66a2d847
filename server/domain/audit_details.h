// The canonical JSON details recorded with each audit event. Their bytes
// are hashed into the audit chain: a change here changes what new events
// hash to, never what old ones verify to (the chain hashes stored bytes).
#ifndef APPROVAL_SERVER_DOMAIN_AUDIT_DETAILS_H_
#define APPROVAL_SERVER_DOMAIN_AUDIT_DETAILS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/approval.h"

namespace approval {

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

#endif  // APPROVAL_SERVER_DOMAIN_AUDIT_DETAILS_H_
