// Domain types of the broker. Plain values: no I/O, no locking.
#ifndef APPROVAL_SERVER_DOMAIN_APPROVAL_H_
#define APPROVAL_SERVER_DOMAIN_APPROVAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace approval {

enum class State { kPending, kApproved, kDenied, kExpired, kCancelled };
enum class Verdict { kApprove, kDeny };

// What an audit event records. Every state change is one event; a refused
// self-approval is an event that changes nothing else.
enum class EventType {
  kCreated,
  kApproved,
  kDenied,
  kExpired,
  kCancelled,
  kDecisionRefused,
  kReviewed,  // one reviewer's verdict; the state may change in a later event
  // A pending approval reached its rule's escalate_after: the escalate_to
  // groups may review it from now on. Changes no state; at most once.
  kEscalated,
};

bool IsTerminal(State s);
// Stable lower-case names used in the database and in canonical bytes.
absl::string_view StateName(State s);
absl::string_view EventTypeName(EventType t);
std::optional<State> ParseState(absl::string_view name);
std::optional<EventType> ParseEventType(absl::string_view name);
// "approve" | "deny", as in audit details, the reviews table and metrics.
absl::string_view VerdictName(Verdict v);
std::optional<Verdict> ParseVerdict(absl::string_view name);
// The state an approval is in after an event of this type; nullopt for
// events that change no state (kDecisionRefused, kReviewed, kEscalated).
std::optional<State> StateAfter(EventType t);
// True for the stream events that report progress on a pending approval
// without changing its state: kReviewed and kEscalated. Id-following
// streams see them only when they ask for progress.
bool IsProgressEvent(EventType t);

// Actor recorded for events the broker causes by itself (expiry).
inline constexpr absl::string_view kSystemActor = "system";
// Actor recorded when a policy rule approves or denies a request by itself.
inline constexpr absl::string_view kPolicyActor = "policy";

// What a policy rule decided for a request at creation.
enum class Outcome { kRequireApproval, kAutoApprove, kAutoDeny };
absl::string_view OutcomeName(Outcome o);  // "require_approval", ...
std::optional<Outcome> ParseOutcome(absl::string_view name);

// What the rule that matched a request requires; fixed at creation, so a
// policy reload never changes what a pending approval needs (group
// membership, though, is looked up when a review arrives).
struct Requirement {
  std::string rule;  // the policy rule's name
  Outcome outcome = Outcome::kRequireApproval;
  // Groups whose members may review; empty: anyone with the reviewer or
  // admin role.
  std::vector<std::string> reviewer_groups;
  int approvals_required = 1;  // distinct people, >= 1
  bool deny_ends = true;       // one deny review denies the approval
  // How long after approval the action may run (the token's window).
  absl::Duration execution_window = absl::Hours(1);
  // Escalation: when the approval is still pending escalate_after after its
  // creation, a kEscalated event is written once and members of
  // escalate_to may review it too, counting toward approvals_required like
  // members of reviewer_groups. Zero (and escalate_to empty): never.
  absl::Duration escalate_after = absl::ZeroDuration();
  std::vector<std::string> escalate_to;
};

// One reviewer's verdict on an approval; at most one per reviewer.
struct Review {
  std::string reviewer;  // canonical principal
  Verdict verdict = Verdict::kApprove;
  std::string comment;
  absl::Time reviewed_at;
  // Set when a relay decided for the reviewer: the relay's qualified
  // identity and the reviewer's platform identity. Empty for a direct call.
  std::string relay;
  std::string platform_user;
};

// One row of the append-only audit log.
struct AuditEvent {
  int64_t seq = 0;  // 1, 2, 3, ... without gaps, in commit order
  std::string approval_id;
  EventType type = EventType::kCreated;
  std::string actor;
  absl::Time occurred_at;    // microsecond precision
  std::string details_json;  // canonical JSON object
  std::string prev_hash;     // 32 raw bytes; all zero for seq 1
  std::string hash;          // 32 raw bytes
  // Who sealed the event: the broker key's id and its Ed25519 signature
  // (64 raw bytes) over AuditSignedBytes(hash) (audit_chain.h). Both empty
  // only for events written before audit signing existed.
  std::string key_id;
  std::string signature;
};

struct Approval {
  std::string id;  // UUID, lower-case canonical text
  std::string action;
  std::string resource;  // masked (masking.h)
  // The masked preview of the parameters (canonical JSON object); the raw
  // parameters are never stored.
  std::string parameters_preview;
  std::string justification;  // masked
  // Canonical principal of the caller that asked (an agent or a person).
  std::string requester;
  // Canonical principal of the human the requester acted for (RFC 8693
  // `act`, or configured); empty when it acted for nobody. That human may
  // not decide the approval either.
  std::string on_behalf_of;
  std::string idempotency_key;  // empty: none
  std::string action_digest;    // lower-case hex SHA-256
  // SHA-256 (hex) over everything the requester sent that identifies the
  // request (digest, justification, ttl): an idempotent retry must match it.
  std::string request_fingerprint;
  State state = State::kPending;
  absl::Time created_at;
  absl::Time expires_at;
  std::optional<absl::Time> decided_at;
  std::string decided_by;
  std::string decision_comment;
  Requirement requirement;
  // When its kEscalated event was written; nullopt until then (and for
  // approvals whose rule does not escalate).
  std::optional<absl::Time> escalated_at;
  std::vector<Review> reviews;  // oldest first
  // Only when state is kApproved: the approval's own audit events (created,
  // reviewed, approved), as the store read them, from which the broker
  // proves the approval before it issues a token (audit_proof.h). The
  // row's state alone is never enough.
  std::vector<AuditEvent> evidence;
};

// A validated request, ready to store. Built by ValidateRequest and
// ToNewApproval (validation.h).
struct NewApproval {
  std::string action;
  std::string resource;            // masked
  std::string parameters_preview;  // masked, canonical
  std::string justification;       // masked
  std::string requester;
  std::string on_behalf_of;  // empty: the requester acts for nobody
  std::string idempotency_key;
  std::string action_digest;
  std::string request_fingerprint;
  absl::Duration ttl;
  // The rule's requirement; an kAutoApprove / kAutoDeny outcome decides the
  // approval in the same transaction as its creation.
  Requirement requirement;
};

// What StreamDecisions delivers: a state-changing event and the approval as
// of that event.
struct ApprovalEvent {
  int64_t cursor = 0;  // the audit event's seq
  EventType type = EventType::kCreated;
  std::string actor;
  absl::Time occurred_at;
  Approval approval;
  // kReviewed events only (EventQuery::include_reviewed): the review and the
  // approvals still missing right after it.
  std::optional<Review> review;
  int approvals_missing = 0;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_APPROVAL_H_
