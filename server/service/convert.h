// Conversions between domain types and the approval.v1 API, and the one
// place where absl::Status becomes grpc::Status.
#ifndef APPROVAL_SERVER_SERVICE_CONVERT_H_
#define APPROVAL_SERVER_SERVICE_CONVERT_H_

#include <string_view>

#include "absl/status/status.h"
#include "approval/v1/approval.pb.h"
#include "grpcpp/support/status.h"
#include "server/domain/approval.h"

namespace approval {

grpc::Status ToGrpcStatus(const absl::Status& s);
// Lower-case code name for metric labels ("ok", "not_found", ...).
std::string CodeLabel(absl::StatusCode code);

void ToProto(const Approval& a, v1::Approval* out);
void ToProto(const ApprovalEvent& e, v1::DecisionEvent* out);
v1::State ToProto(State s);
std::optional<State> FromProto(v1::State s);  // nullopt for UNSPECIFIED

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_CONVERT_H_
