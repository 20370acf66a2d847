#include "server/service/convert.h"

#include "absl/strings/ascii.h"
#include "google/protobuf/util/time_util.h"

namespace approval {
namespace {

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  *out = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(t));
}

v1::EventType ToProto(EventType t) {
  switch (t) {
    case EventType::kCreated:
      return v1::EVENT_CREATED;
    case EventType::kApproved:
      return v1::EVENT_APPROVED;
    case EventType::kDenied:
      return v1::EVENT_DENIED;
    case EventType::kExpired:
      return v1::EVENT_EXPIRED;
    case EventType::kCancelled:
      return v1::EVENT_CANCELLED;
    case EventType::kDecisionRefused:
      break;
  }
  return v1::EVENT_TYPE_UNSPECIFIED;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

std::string CodeLabel(absl::StatusCode code) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(code));
}

v1::State ToProto(State s) {
  switch (s) {
    case State::kPending:
      return v1::PENDING;
    case State::kApproved:
      return v1::APPROVED;
    case State::kDenied:
      return v1::DENIED;
    case State::kExpired:
      return v1::EXPIRED;
    case State::kCancelled:
      return v1::CANCELLED;
  }
  return v1::STATE_UNSPECIFIED;
}

std::optional<State> FromProto(v1::State s) {
  switch (s) {
    case v1::PENDING:
      return State::kPending;
    case v1::APPROVED:
      return State::kApproved;
    case v1::DENIED:
      return State::kDenied;
    case v1::EXPIRED:
      return State::kExpired;
    case v1::CANCELLED:
      return State::kCancelled;
    default:
      return std::nullopt;
  }
}

void ToProto(const Approval& a, v1::Approval* out) {
  out->set_id(a.id);
  out->set_action(a.action);
  out->set_resource(a.resource);
  out->set_parameters_json(a.parameters_json);
  out->set_justification(a.justification);
  out->set_state(ToProto(a.state));
  out->set_requester(a.requester);
  SetTime(a.created_at, out->mutable_create_time());
  SetTime(a.expires_at, out->mutable_expire_time());
  if (a.decided_at) SetTime(*a.decided_at, out->mutable_decide_time());
  out->set_decided_by(a.decided_by);
  out->set_decision_comment(a.decision_comment);
  out->set_action_digest(a.action_digest);
  out->set_idempotency_key(a.idempotency_key);
  out->set_on_behalf_of(a.on_behalf_of);
}

void ToProto(const ApprovalEvent& e, v1::DecisionEvent* out) {
  out->set_cursor(static_cast<uint64_t>(e.cursor));
  out->set_type(ToProto(e.type));
  ToProto(e.approval, out->mutable_approval());
  SetTime(e.occurred_at, out->mutable_event_time());
  out->set_actor(e.actor);
}

}  // namespace approval
