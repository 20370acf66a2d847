#include "server/domain/approval.h"

namespace approval {

bool IsTerminal(State s) { return s != State::kPending; }

absl::string_view StateName(State s) {
  switch (s) {
    case State::kPending:
      return "pending";
    case State::kApproved:
      return "approved";
    case State::kDenied:
      return "denied";
    case State::kExpired:
      return "expired";
    case State::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

absl::string_view EventTypeName(EventType t) {
  switch (t) {
    case EventType::kCreated:
      return "created";
    case EventType::kApproved:
      return "approved";
    case EventType::kDenied:
      return "denied";
    case EventType::kExpired:
      return "expired";
    case EventType::kCancelled:
      return "cancelled";
    case EventType::kDecisionRefused:
      return "decision_refused";
    case EventType::kReviewed:
      return "reviewed";
    case EventType::kEscalated:
      return "escalated";
  }
  return "unknown";
}

std::optional<State> ParseState(absl::string_view name) {
  for (State s : {State::kPending, State::kApproved, State::kDenied,
                  State::kExpired, State::kCancelled}) {
    if (StateName(s) == name) return s;
  }
  return std::nullopt;
}

std::optional<EventType> ParseEventType(absl::string_view name) {
  for (EventType t :
       {EventType::kCreated, EventType::kApproved, EventType::kDenied,
        EventType::kExpired, EventType::kCancelled, EventType::kDecisionRefused,
        EventType::kReviewed, EventType::kEscalated}) {
    if (EventTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::optional<State> StateAfter(EventType t) {
  switch (t) {
    case EventType::kCreated:
      return State::kPending;
    case EventType::kApproved:
      return State::kApproved;
    case EventType::kDenied:
      return State::kDenied;
    case EventType::kExpired:
      return State::kExpired;
    case EventType::kCancelled:
      return State::kCancelled;
    case EventType::kDecisionRefused:
    case EventType::kReviewed:
    case EventType::kEscalated:
      return std::nullopt;
  }
  return std::nullopt;
}

bool IsProgressEvent(EventType t) {
  return t == EventType::kReviewed || t == EventType::kEscalated;
}

absl::string_view VerdictName(Verdict v) {
  return v == Verdict::kApprove ? "approve" : "deny";
}

std::optional<Verdict> ParseVerdict(absl::string_view name) {
  for (Verdict v : {Verdict::kApprove, Verdict::kDeny}) {
    if (VerdictName(v) == name) return v;
  }
  return std::nullopt;
}

absl::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kRequireApproval:
      return "require_approval";
    case Outcome::kAutoApprove:
      return "auto_approve";
    case Outcome::kAutoDeny:
      return "deny";
  }
  return "unknown";
}

std::optional<Outcome> ParseOutcome(absl::string_view name) {
  for (Outcome o :
       {Outcome::kRequireApproval, Outcome::kAutoApprove, Outcome::kAutoDeny}) {
    if (OutcomeName(o) == name) return o;
  }
  return std::nullopt;
}

}  // namespace approval
