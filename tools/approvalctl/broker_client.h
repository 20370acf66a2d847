// BrokerClient: approvalctl's view of the approval.v1 API. Each call returns
// the broker's answer or its error as an absl::Status carrying the gRPC code
// and the broker's message unchanged; callers turn those into exit codes and
// words for people.
#ifndef APPROVAL_TOOLS_APPROVALCTL_BROKER_CLIENT_H_
#define APPROVAL_TOOLS_APPROVALCTL_BROKER_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "approval/v1/approval.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tools/approvalctl/options.h"

namespace approval::ctl {

// Thread-compatible; one per process is enough.
class BrokerClient final {
 public:
  // Reads the TLS files named in `options` and makes a channel; connecting
  // happens on the first call. INVALID_ARGUMENT naming the flag and file when
  // a file cannot be read.
  static absl::StatusOr<std::unique_ptr<BrokerClient>> Create(
      const ConnectionOptions& options);

  // One page of ListApprovals, as the broker answers `request`.
  absl::StatusOr<v1::ListApprovalsResponse> ListApprovals(
      const v1::ListApprovalsRequest& request);
  absl::StatusOr<v1::Approval> Get(const std::string& id);
  // The approval as decided.
  absl::StatusOr<v1::Approval> Decide(const std::string& id,
                                      v1::Verdict verdict,
                                      const std::string& comment);
  absl::StatusOr<v1::VerifyAuditLogResponse> VerifyAuditLog(
      const v1::VerifyAuditLogRequest& req);
  absl::StatusOr<v1::SigningKey> GetSigningKey();
  // One page of ListWebhookDeliveries, as the broker answers `request`.
  absl::StatusOr<v1::ListWebhookDeliveriesResponse> ListWebhookDeliveries(
      const v1::ListWebhookDeliveriesRequest& request);

  // Every audit event matching `request`'s filters, page after page (its
  // page_token is ignored), each passed to `visit` in order. Stops at the
  // first error, the broker's or `visit`'s, and returns it.
  absl::Status ForEachAuditEvent(
      v1::ListAuditEventsRequest request,
      const std::function<absl::Status(const v1::AuditEvent&)>& visit);

  // Opens StreamDecisions without a deadline and blocks until it ends. Calls
  // `on_ready` once the broker has the subscription in place (never for a
  // refused stream), then `on_event` for each event; `on_event` returns false
  // to stop early. Both run on a gRPC thread, one call at a time. Returns the
  // stream's final status: OK when the broker ended it or `on_event` stopped.
  absl::Status Watch(
      const v1::StreamDecisionsRequest& request,
      const std::function<void()>& on_ready,
      const std::function<bool(const v1::DecisionEvent&)>& on_event);

 private:
  BrokerClient(ConnectionOptions options,
               std::shared_ptr<grpc::Channel> channel);
  // A context with the token (if any) and, if `deadline`, --timeout.
  std::unique_ptr<grpc::ClientContext> Context(bool deadline) const;

  const ConnectionOptions options_;
  std::unique_ptr<v1::ApprovalBroker::Stub> stub_;
};

}  // namespace approval::ctl

#endif  // APPROVAL_TOOLS_APPROVALCTL_BROKER_CLIENT_H_
