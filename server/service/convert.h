// Conversions between domain types and the approval.v1 API, and the one
// place where absl::Status becomes grpc::Status.
#ifndef APPROVAL_SERVER_SERVICE_CONVERT_H_
#define APPROVAL_SERVER_SERVICE_CONVERT_H_

#include <string_view>

#include "absl/status/status.h"
#include "approval/v1/approval.pb.h"
#include "grpcpp/support/status.h"
#include "server/domain/approval.h"
#include "server/domain/approval_token.h"

namespace approval {

grpc::Status ToGrpcStatus(const absl::Status& s);
// Lower-case code name for metric labels ("ok", "not_found", ...).
std::string CodeLabel(absl::StatusCode code);

// `signer` issues the approval token of an APPROVED approval (Ed25519 is
// deterministic: the same approval always gets the same token from one
// key); null: no token.
void ToProto(const Approval& a, const TokenSigner* signer, v1::Approval* out);
void ToProto(const ApprovalEvent& e, const TokenSigner* signer,
             v1::DecisionEvent* out);
void ToProto(const AuditEvent& e, v1::AuditEvent* out);
// What the token of an approved `a` says.
ApprovalClaims ClaimsFor(const Approval& a);
v1::State ToProto(State s);
std::optional<State> FromProto(v1::State s);  // nullopt for UNSPECIFIED
absl::Time FromProto(const google::protobuf::Timestamp& t);

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_CONVERT_H_
