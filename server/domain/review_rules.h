// Who may decide or cancel which approval, and when its quorum is met.
// Pure functions with no I/O; transition.h plans every write with them, so
// the check and the change are applied in one store transaction.
#ifndef APPROVAL_SERVER_DOMAIN_REVIEW_RULES_H_
#define APPROVAL_SERVER_DOMAIN_REVIEW_RULES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/approval.h"

namespace approval {

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
// is in none of them (nor, once `a` escalated, in its escalate_to groups),
// and ALREADY_EXISTS when the actor already reviewed it.
absl::Status CheckReview(const Approval& a, absl::string_view actor,
                         const std::vector<std::string>& actor_groups,
                         absl::Time now);

// May a relay (`relay`, empty for a direct call) review `a` when the rules
// named in `rules_refusing_relays` refuse relays? PERMISSION_DENIED (reason
// "relay_not_allowed") when `relay` is set and `a`'s rule is one of them.
absl::Status CheckRelay(const Approval& a, absl::string_view relay,
                        const std::vector<std::string>& rules_refusing_relays);

// True for the CheckReview refusals a store records as kDecisionRefused
// audit events: PERMISSION_DENIED and ALREADY_EXISTS.
bool IsAuditedRefusal(const absl::Status& s);

// Approve reviews of `a` so far (each reviewer has at most one review).
int ApproveCount(const Approval& a);

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

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_REVIEW_RULES_H_
