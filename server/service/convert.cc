#include "server/service/convert.h"

#include "absl/strings/ascii.h"
#include "google/protobuf/util/time_util.h"
#include "server/domain/review_rules.h"
#include "wire/canonical.h"

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
    case EventType::kReviewed:
      return v1::EVENT_REVIEWED;
    case EventType::kEscalated:
      return v1::EVENT_ESCALATED;
    case EventType::kDecisionRefused:
      break;
  }
  return v1::EVENT_TYPE_UNSPECIFIED;
}

v1::Verdict ToProto(Verdict v) {
  return v == Verdict::kApprove ? v1::APPROVE : v1::DENY;
}

v1::Outcome ToProto(Outcome o) {
  switch (o) {
    case Outcome::kRequireApproval:
      return v1::REQUIRE_APPROVAL;
    case Outcome::kAutoApprove:
      return v1::AUTO_APPROVE;
    case Outcome::kAutoDeny:
      return v1::AUTO_DENY;
  }
  return v1::OUTCOME_UNSPECIFIED;
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  *out = google::protobuf::util::TimeUtil::MicrosecondsToDuration(
      absl::ToInt64Microseconds(d));
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

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

void ToProto(const AuditEvent& e, v1::AuditEvent* out) {
  out->set_seq(static_cast<uint64_t>(e.seq));
  out->set_approval_id(e.approval_id);
  out->set_type(std::string(EventTypeName(e.type)));
  out->set_actor(e.actor);
  SetTime(e.occurred_at, out->mutable_occur_time());
  out->set_details_json(e.details_json);
  out->set_prev_hash(HexEncode(e.prev_hash));
  out->set_hash(HexEncode(e.hash));
  out->set_key_id(e.key_id);
  out->set_signature(HexEncode(e.signature));
}

absl::Status ToProto(const Approval& a, const TokenIssuer* issuer,
                     v1::Approval* out) {
  out->set_id(a.id);
  out->set_action(a.action);
  out->set_resource(a.resource);
  out->set_parameters_preview_json(a.parameters_preview);
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
  v1::Requirement* req = out->mutable_requirement();
  req->set_rule(a.requirement.rule);
  req->set_outcome(ToProto(a.requirement.outcome));
  for (const std::string& g : a.requirement.reviewer_groups) {
    req->add_reviewer_groups(g);
  }
  req->set_approvals_required(a.requirement.approvals_required);
  req->set_deny_ends(a.requirement.deny_ends);
  SetDuration(a.requirement.execution_window, req->mutable_execution_window());
  if (a.requirement.escalate_after > absl::ZeroDuration()) {
    SetDuration(a.requirement.escalate_after, req->mutable_escalate_after());
  }
  for (const std::string& g : a.requirement.escalate_to) {
    req->add_escalate_to(g);
  }
  if (a.escalated_at) SetTime(*a.escalated_at, out->mutable_escalate_time());
  for (const Review& r : a.reviews) {
    ToProto(r, out->add_reviews());
  }
  out->set_approvals_missing(ApprovalsMissing(a));
  if (a.state == State::kApproved && issuer != nullptr) {
    absl::StatusOr<std::string> token = issuer->TokenFor(a);
    if (!token.ok()) return token.status();
    out->set_approval_token(*std::move(token));
  }
  return absl::OkStatus();
}

void ToProto(const Review& r, v1::Review* out) {
  out->set_reviewer(r.reviewer);
  out->set_verdict(ToProto(r.verdict));
  out->set_comment(r.comment);
  SetTime(r.reviewed_at, out->mutable_review_time());
  out->set_relay(r.relay);
  out->set_platform_user(r.platform_user);
}

absl::Status ToProto(const ApprovalEvent& e, const TokenIssuer* issuer,
                     v1::DecisionEvent* out) {
  out->set_cursor(static_cast<uint64_t>(e.cursor));
  out->set_type(ToProto(e.type));
  SetTime(e.occurred_at, out->mutable_event_time());
  out->set_actor(e.actor);
  if (e.review.has_value()) {
    ToProto(*e.review, out->mutable_review());
    out->set_approvals_missing(e.approvals_missing);
  }
  return ToProto(e.approval, issuer, out->mutable_approval());
}

}  // namespace approval
