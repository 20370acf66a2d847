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
  for (EventType t : {EventType::kCreated, EventType::kApproved,
                      EventType::kDenied, EventType::kExpired,
                      EventType::kCancelled, EventType::kDecisionRefused}) {
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
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace approval
