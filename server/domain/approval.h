// Domain types of the broker. Plain values: no I/O, no locking.
#ifndef APPROVAL_SERVER_DOMAIN_APPROVAL_H_
#define APPROVAL_SERVER_DOMAIN_APPROVAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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
};

bool IsTerminal(State s);
// Stable lower-case names used in the database and in canonical bytes.
absl::string_view StateName(State s);
absl::string_view EventTypeName(EventType t);
std::optional<State> ParseState(absl::string_view name);
std::optional<EventType> ParseEventType(absl::string_view name);
// The state an approval is in after an event of this type; nullopt for
// events that change no state (kDecisionRefused).
std::optional<State> StateAfter(EventType t);

// Actor recorded for events the broker causes by itself (expiry).
inline constexpr absl::string_view kSystemActor = "system";

struct Approval {
  std::string id;  // UUID, lower-case canonical text
  std::string action;
  std::string resource;
  std::string parameters_json;  // canonical JSON object
  std::string justification;
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
};

// A validated request, ready to store. Built by ValidateRequest (rules.h).
struct NewApproval {
  std::string action;
  std::string resource;
  std::string parameters_json;  // canonical
  std::string justification;
  std::string requester;
  std::string on_behalf_of;  // empty: the requester acts for nobody
  std::string idempotency_key;
  std::string action_digest;
  std::string request_fingerprint;
  absl::Duration ttl;
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
};

// What StreamDecisions delivers: a state-changing event and the approval as
// of that event.
struct ApprovalEvent {
  int64_t cursor = 0;  // the audit event's seq
  EventType type = EventType::kCreated;
  std::string actor;
  absl::Time occurred_at;
  Approval approval;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_APPROVAL_H_
