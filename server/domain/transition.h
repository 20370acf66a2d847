// Transitions: what one write does to one approval.
//
// The domain plans, the store applies (leveldb's WriteBatch / DB::Write
// split). A store reads the approval under its lock, asks one of the Plan*
// functions below with its own clock, and then only applies the plan in one
// transaction: writes `after`, appends `review`, and gives each planned
// event its seq, chains and seals it (audit_chain.h). No store decides
// anything itself, so both stores agree by construction.
//
// Pure functions, no I/O. Times are truncated to microseconds, the
// precision PostgreSQL stores.
#ifndef APPROVAL_SERVER_DOMAIN_TRANSITION_H_
#define APPROVAL_SERVER_DOMAIN_TRANSITION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/approval.h"

namespace approval {

// A reviewer's verdict on an approval, as the service hands it to a store.
struct DecideInput {
  std::string approval_id;
  std::string actor;  // canonical principal of the reviewer of record
  Verdict verdict = Verdict::kApprove;
  std::string comment;
  // The policy groups the actor belongs to now (Policy::GroupsOf).
  std::vector<std::string> actor_groups;
  // Set when a relay decides for the actor: the relay's qualified identity
  // and the actor's platform identity; both empty for a direct call.
  std::string relay;
  std::string platform_user;
  // Rules that refuse reviews through relays now (relays_allowed: false).
  std::vector<std::string> rules_refusing_relays;
};

// An audit event to write; the store assigns seq, occurred_at (the plan's
// `now`), the chain hashes and the seal.
struct PlannedEvent {
  EventType type = EventType::kCreated;
  std::string actor;
  std::string details_json;  // canonical JSON object
};

struct Transition {
  // The approval as it must be after the write. For a refusal: as read.
  Approval after;
  // The review this write appends (also the last of after.reviews); it is
  // recorded with the seq of the kReviewed event among `events`.
  std::optional<Review> review;
  // True when the write moves the approval to a terminal state (the row's
  // state, decided_at, decided_by and decision_comment change).
  bool finishes = false;
  // The events to write, in order.
  std::vector<PlannedEvent> events;
  // Not OK: the write is refused. The store still commits `events` (an
  // audited refusal: one kDecisionRefused event) before it returns this
  // status; with no events it writes nothing at all.
  absl::Status refusal;

  bool refused() const { return !refusal.ok(); }
};

// A new approval with id `id`, created at store time `now`: pending until
// now + req.ttl, or decided at once (actor kPolicyActor) when its rule's
// outcome is automatic. Events: kCreated, then kApproved / kDenied for an
// automatic outcome.
Transition PlanCreate(const NewApproval& req, std::string id, absl::Time now);

// `existing` holds the idempotency key `req` uses: OK when `req` is a
// repeat of the same request (fingerprints match), else ALREADY_EXISTS
// naming the approval that holds the key.
absl::Status CheckIdempotentRepeat(const Approval& existing,
                                   const NewApproval& req);

// A review of `current` (with all its reviews) at store time `now`:
// CheckReview, then CheckRelay for a review through a relay
// (review_rules.h); an audited refusal (IsAuditedRefusal) plans one
// kDecisionRefused event, any other refusal nothing. Else a kReviewed
// event, followed by kApproved / kDenied (decided_by = the reviewer) when
// the review completes the quorum or is a deny that ends the approval.
Transition PlanReview(const Approval& current, const DecideInput& in,
                      absl::Time now);

// The requester withdraws `current`: CheckCancel (review_rules.h), then the
// kCancelled event with `reason` as the decision comment.
Transition PlanCancel(const Approval& current, absl::string_view actor,
                      absl::string_view reason, absl::Time now);

// `current` expires at `now` (actor kSystemActor). FAILED_PRECONDITION,
// writing nothing, unless it is pending and its expiry has passed.
Transition PlanExpire(const Approval& current, absl::Time now);

// When `a` escalates (created_at + requirement.escalate_after); nullopt
// when its rule does not escalate.
std::optional<absl::Time> EscalatesAt(const Approval& a);

// `current` escalates at `now` (actor kSystemActor): after.escalated_at =
// now and one kEscalated event (EscalationDetails); the state does not
// change. FAILED_PRECONDITION, writing nothing, unless it is pending, not
// yet escalated, past EscalatesAt and not past its expiry (an approval
// that expires first never escalates).
Transition PlanEscalate(const Approval& current, absl::Time now);

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_TRANSITION_H_
