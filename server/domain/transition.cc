#include "server/domain/transition.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/domain/audit_details.h"
#include "server/domain/review_rules.h"

namespace approval {
namespace {

absl::Time Micros(absl::Time t) {
  return absl::FromUnixMicros(absl::ToUnixMicros(t));
}

void Finish(Approval& a, State state, absl::string_view decided_by,
            absl::string_view comment, absl::Time now) {
  a.state = state;
  a.decided_at = now;
  a.decided_by = std::string(decided_by);
  a.decision_comment = std::string(comment);
}

EventType TerminalEvent(State s) {
  switch (s) {
    case State::kApproved:
      return EventType::kApproved;
    case State::kDenied:
      return EventType::kDenied;
    case State::kExpired:
      return EventType::kExpired;
    case State::kCancelled:
    case State::kPending:
      break;
  }
  return EventType::kCancelled;
}

Transition Refused(const Approval& current, absl::Status why) {
  Transition t;
  t.after = current;
  t.refusal = std::move(why);
  return t;
}

}  // namespace

Transition PlanCreate(const NewApproval& req, std::string id, absl::Time now) {
  now = Micros(now);
  Transition t;
  Approval& a = t.after;
  a.id = std::move(id);
  a.action = req.action;
  a.resource = req.resource;
  a.parameters_preview = req.parameters_preview;
  a.justification = req.justification;
  a.requester = req.requester;
  a.on_behalf_of = req.on_behalf_of;
  a.idempotency_key = req.idempotency_key;
  a.action_digest = req.action_digest;
  a.request_fingerprint = req.request_fingerprint;
  a.state = State::kPending;
  a.created_at = now;
  a.expires_at = Micros(now + req.ttl);
  a.requirement = req.requirement;
  t.events.push_back({EventType::kCreated, a.requester, CreatedDetails(a)});
  if (req.requirement.outcome != Outcome::kRequireApproval) {
    const State s = req.requirement.outcome == Outcome::kAutoApprove
                        ? State::kApproved
                        : State::kDenied;
    Finish(a, s, kPolicyActor, "", now);
    t.finishes = true;
    t.events.push_back(
        {TerminalEvent(s), a.decided_by, AutoOutcomeDetails(a.requirement)});
  }
  return t;
}

absl::Status CheckIdempotentRepeat(const Approval& existing,
                                   const NewApproval& req) {
  if (existing.request_fingerprint == req.request_fingerprint) {
    return absl::OkStatus();
  }
  return absl::AlreadyExistsError(absl::StrCat(
      "idempotency_key \"", req.idempotency_key, "\" was already used by ",
      req.requester, " for a different request (approval ", existing.id, ")"));
}

Transition PlanReview(const Approval& current, const DecideInput& in,
                      absl::Time now) {
  now = Micros(now);
  absl::Status check = CheckReview(current, in.actor, in.actor_groups, now);
  if (check.ok())
    check = CheckRelay(current, in.relay, in.rules_refusing_relays);
  if (!check.ok()) {
    Transition t = Refused(current, check);
    if (IsAuditedRefusal(check)) {
      t.events.push_back({EventType::kDecisionRefused, in.actor,
                          RefusalDetails(check.message(), in.verdict, in.relay,
                                         in.platform_user)});
    }
    return t;
  }
  Transition t;
  Approval& a = t.after;
  a = current;
  t.review =
      Review{in.actor, in.verdict, in.comment, now, in.relay, in.platform_user};
  a.reviews.push_back(*t.review);
  t.events.push_back(
      {EventType::kReviewed, in.actor, ReviewDetails(a, *t.review)});
  if (std::optional<State> outcome = QuorumOutcome(a)) {
    Finish(a, *outcome, in.actor, in.comment, now);
    t.finishes = true;
    t.events.push_back({TerminalEvent(*outcome), in.actor, QuorumDetails(a)});
  }
  return t;
}

Transition PlanCancel(const Approval& current, absl::string_view actor,
                      absl::string_view reason, absl::Time now) {
  if (absl::Status s = CheckCancel(current, actor); !s.ok()) {
    return Refused(current, std::move(s));
  }
  Transition t;
  t.after = current;
  Finish(t.after, State::kCancelled, actor, reason, Micros(now));
  t.finishes = true;
  t.events.push_back(
      {EventType::kCancelled, std::string(actor), CancelDetails(reason)});
  return t;
}

Transition PlanExpire(const Approval& current, absl::Time now) {
  now = Micros(now);
  if (IsTerminal(current.state) || current.expires_at > now) {
    return Refused(current,
                   absl::FailedPreconditionError(absl::StrCat(
                       "approval ", current.id, " is not due to expire")));
  }
  Transition t;
  t.after = current;
  Finish(t.after, State::kExpired, "", "", now);
  t.finishes = true;
  t.events.push_back({EventType::kExpired, std::string(kSystemActor),
                      ExpiryDetails(current.expires_at)});
  return t;
}

std::optional<absl::Time> EscalatesAt(const Approval& a) {
  if (a.requirement.escalate_after <= absl::ZeroDuration()) {
    return std::nullopt;
  }
  return Micros(a.created_at + a.requirement.escalate_after);
}

Transition PlanEscalate(const Approval& current, absl::Time now) {
  now = Micros(now);
  const std::optional<absl::Time> due = EscalatesAt(current);
  if (IsTerminal(current.state) || current.escalated_at.has_value() ||
      !due.has_value() || *due > now || current.expires_at <= now) {
    return Refused(current,
                   absl::FailedPreconditionError(absl::StrCat(
                       "approval ", current.id, " is not due to escalate")));
  }
  Transition t;
  t.after = current;
  t.after.escalated_at = now;
  t.events.push_back({EventType::kEscalated, std::string(kSystemActor),
                      EscalationDetails(t.after)});
  return t;
}

}  // namespace approval
