// Conversions between domain types and the approval.v1 API, and the one
// place where absl::Status becomes grpc::Status.
#ifndef APPROVAL_SERVER_SERVICE_CONVERT_H_
#define APPROVAL_SERVER_SERVICE_CONVERT_H_

#include "absl/status/status.h"
#include "approval/v1/approval.pb.h"
#include "grpcpp/support/status.h"
#include "server/domain/approval.h"
#include "server/service/token_issuer.h"

namespace approval {

grpc::Status ToGrpcStatus(const absl::Status& s);
// Lower-case code name for metric labels ("ok", "not_found", ...).
std::string CodeLabel(absl::StatusCode code);

// `issuer` issues the approval token of an APPROVED approval from its
// signed audit evidence; null: no token. DATA_LOSS (and `out` half-filled,
// to be discarded) when an approved `a` is not proven by its evidence: the
// broker never answers APPROVED for it.
absl::Status ToProto(const Approval& a, const TokenIssuer* issuer,
                     v1::Approval* out);
void ToProto(const Review& r, v1::Review* out);
absl::Status ToProto(const ApprovalEvent& e, const TokenIssuer* issuer,
                     v1::DecisionEvent* out);
void ToProto(const AuditEvent& e, v1::AuditEvent* out);
v1::State ToProto(State s);
std::optional<State> FromProto(v1::State s);  // nullopt for UNSPECIFIED
absl::Time FromProto(const google::protobuf::Timestamp& t);

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_CONVERT_H_
