// The canonical JSON details recorded with each audit event. Their bytes
// are hashed into the audit chain: a change here changes what new events
// hash to, never what old ones verify to (the chain hashes stored bytes).
#ifndef APPROVAL_SERVER_DOMAIN_AUDIT_DETAILS_H_
#define APPROVAL_SERVER_DOMAIN_AUDIT_DETAILS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/approval.h"

namespace approval {

// RFC 3339 UTC text with microseconds, as used in messages and details.
std::string FormatTimestamp(absl::Time t);

// Canonical JSON details recorded with each audit event.
std::string CreatedDetails(const Approval& a);
// A review: verdict, comment, the quorum after it and, for a review through
// a relay, "relay" and "platform_user".
std::string ReviewDetails(const Approval& a_after, const Review& r);

// What a kReviewed event's details (ReviewDetails) say: the review (reviewer
// `actor`, at `occurred_at`) and the approvals still missing after it.
struct ReviewedDetails {
  Review review;
  int approvals_missing = 0;
};
// nullopt when `details_json` is not ReviewDetails' shape.
std::optional<ReviewedDetails> ParseReviewDetails(
    absl::string_view actor, absl::Time occurred_at,
    absl::string_view details_json);
// The state change a quorum (or a deny) caused: the deciding reviews.
std::string QuorumDetails(const Approval& a_after);
// The state change a rule's automatic outcome caused.
std::string AutoOutcomeDetails(const Requirement& r);
std::string RefusalDetails(absl::string_view reason, Verdict v,
                           absl::string_view relay = "",
                           absl::string_view platform_user = "");
std::string CancelDetails(absl::string_view reason);
// A kEscalated event: the groups that may now review and the quorum so far.
std::string EscalationDetails(const Approval& a);
std::string ExpiryDetails(absl::Time expires_at);

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_AUDIT_DETAILS_H_
