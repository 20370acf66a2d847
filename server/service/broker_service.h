// BrokerService: the approval.v1.ApprovalBroker gRPC service on the callback
// API. Handlers authenticate on gRPC's thread, then run their store call on
// the Executor and finish the reactor from there; a waiting StreamDecisions
// holds no thread at all, only a registration in the EventHub.
#ifndef APPROVAL_SERVER_SERVICE_BROKER_SERVICE_H_
#define APPROVAL_SERVER_SERVICE_BROKER_SERVICE_H_

#include <functional>

#include "approval/v1/approval.grpc.pb.h"
#include "server/auth/authenticator.h"
#include "server/domain/validation.h"
#include "server/policy/active_policy.h"
#include "server/service/catch_up_batcher.h"
#include "server/service/event_hub.h"
#include "server/service/executor.h"
#include "server/service/metrics.h"
#include "server/service/request_check.h"
#include "server/service/token_issuer.h"
#include "server/store/store.h"
#include "server/webhook/delivery_queue.h"
#include "wire/approval_token.h"

namespace approval {

struct ServiceOptions {
  Limits limits;
  // Events a stream may have queued for a slow reader before it is ended
  // with RESOURCE_EXHAUSTED (the client resumes from its last cursor).
  int stream_max_backlog = 10000;
  // How long such a stream may take to deliver that status before it is
  // cancelled (its client stopped reading).
  absl::Duration stream_overflow_grace = absl::Seconds(5);
  // Most approval ids one StreamDecisions call may follow.
  int stream_max_ids = 1000;
  // The webhook delivery table ListWebhookDeliveries reads; null (no
  // webhooks configured): that call is FAILED_PRECONDITION.
  WebhookQueue* webhook_deliveries = nullptr;
};

// Every method's request reaches its handler through CheckedRequest
// (request_check.h): a request that is not valid protobuf or fails
// CheckRequestFields is answered INVALID_ARGUMENT naming the field, before
// authentication, and touches nothing.
//
// Thread-safe. All dependencies must outlive the service.
class BrokerService final : public v1::ApprovalBroker::CallbackService {
 public:
  // Requests meet the policy `policy` holds at the time they arrive;
  // `issuer` issues approval tokens and its keys verify the audit log.
  BrokerService(ApprovalStore& store, const Authenticator& auth, EventHub& hub,
                Executor& executor, BrokerMetrics& metrics,
                const PolicyHolder& policy, const TokenIssuer& issuer,
                ServiceOptions options);

  grpc::ServerUnaryReactor* RequestApproval(
      grpc::CallbackServerContext* ctx, const v1::RequestApprovalRequest* req,
      v1::RequestApprovalResponse* resp) override;
  grpc::ServerUnaryReactor* Decide(grpc::CallbackServerContext* ctx,
                                   const v1::DecideRequest* req,
                                   v1::DecideResponse* resp) override;
  grpc::ServerUnaryReactor* GetApproval(grpc::CallbackServerContext* ctx,
                                        const v1::GetApprovalRequest* req,
                                        v1::Approval* resp) override;
  grpc::ServerUnaryReactor* ListApprovals(
      grpc::CallbackServerContext* ctx, const v1::ListApprovalsRequest* req,
      v1::ListApprovalsResponse* resp) override;
  grpc::ServerUnaryReactor* CancelApproval(grpc::CallbackServerContext* ctx,
                                           const v1::CancelApprovalRequest* req,
                                           v1::Approval* resp) override;
  grpc::ServerUnaryReactor* VerifyAuditLog(
      grpc::CallbackServerContext* ctx, const v1::VerifyAuditLogRequest* req,
      v1::VerifyAuditLogResponse* resp) override;
  grpc::ServerUnaryReactor* ListAuditEvents(
      grpc::CallbackServerContext* ctx, const v1::ListAuditEventsRequest* req,
      v1::ListAuditEventsResponse* resp) override;
  grpc::ServerUnaryReactor* GetSigningKey(grpc::CallbackServerContext* ctx,
                                          const v1::GetSigningKeyRequest* req,
                                          v1::SigningKey* resp) override;
  grpc::ServerUnaryReactor* ListWebhookDeliveries(
      grpc::CallbackServerContext* ctx,
      const v1::ListWebhookDeliveriesRequest* req,
      v1::ListWebhookDeliveriesResponse* resp) override;
  grpc::ServerWriteReactor<v1::DecisionEvent>* StreamDecisions(
      grpc::CallbackServerContext* ctx,
      const v1::StreamDecisionsRequest* req) override;

 private:
  using Handler = std::function<absl::Status(const Principal&)>;

  // Who decides: `p` itself for a direct call (PERMISSION_DENIED if it sets
  // platform_user), or the human a relay names (Authenticator::RelayedHuman;
  // PERMISSION_DENIED when the relay names nobody, acts for someone, or the
  // human holds neither the reviewer nor the admin role).
  absl::StatusOr<Principal> ReviewerOfRecord(
      const Principal& p, const v1::DecideRequest& req) const;
  // Replaces the generated handler of every method with one that takes a
  // CheckedRequest; aborts if a method of the service is left out.
  void InstallCheckedHandlers();
  template <typename Req, typename Resp>
  void CheckUnary(absl::string_view method,
                  grpc::ServerUnaryReactor* (BrokerService::*handler)(
                      grpc::CallbackServerContext*, const Req*, Resp*));
  // Finishes a call whose request failed its check, and counts it.
  grpc::ServerUnaryReactor* RefuseRequest(grpc::CallbackServerContext* ctx,
                                          absl::string_view method,
                                          const absl::Status& s);
  // Logs a refusal (UNAUTHENTICATED or PERMISSION_DENIED) of principal
  // `caller` ("" when unauthenticated) with its detail and counts it by
  // reason; `who` is the authenticated identity, or the peer address when
  // there is none. Any other status is left alone.
  void RecordIfRefused(absl::string_view method, absl::string_view caller,
                       absl::string_view who, const absl::Status& s);
  // Authenticates, runs `handler` on the executor, finishes the reactor and
  // records the RPC's latency and outcome in the metrics and the access log.
  // `approval_id`, when set, names the call's approval once it finished.
  grpc::ServerUnaryReactor* Unary(
      grpc::CallbackServerContext* ctx, absl::string_view method,
      Handler handler, std::function<std::string()> approval_id = nullptr);
  absl::Status DoRequestApproval(const Principal& p,
                                 const v1::RequestApprovalRequest& req,
                                 v1::RequestApprovalResponse* resp);
  absl::Status DoDecide(const Principal& p, const v1::DecideRequest& req,
                        v1::DecideResponse* resp);
  absl::Status DoGet(const Principal& p, const v1::GetApprovalRequest& req,
                     v1::Approval* resp);
  absl::Status DoList(const Principal& p, const v1::ListApprovalsRequest& req,
                      v1::ListApprovalsResponse* resp);
  absl::Status DoVerifyAuditLog(const Principal& p,
                                const v1::VerifyAuditLogRequest& req,
                                v1::VerifyAuditLogResponse* resp);
  absl::Status DoListAuditEvents(const Principal& p,
                                 const v1::ListAuditEventsRequest& req,
                                 v1::ListAuditEventsResponse* resp);
  absl::Status DoListWebhookDeliveries(
      const Principal& p, const v1::ListWebhookDeliveriesRequest& req,
      v1::ListWebhookDeliveriesResponse* resp);
  absl::Status DoCancel(const Principal& p,
                        const v1::CancelApprovalRequest& req,
                        v1::Approval* resp);

  ApprovalStore& store_;
  const Authenticator& auth_;
  EventHub& hub_;
  Executor& executor_;
  BrokerMetrics& metrics_;
  const PolicyHolder& policy_;
  const TokenIssuer& issuer_;
  const ServiceOptions options_;
  // The catch-up reads of streams following ids, batched.
  CatchUpBatcher catch_up_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_BROKER_SERVICE_H_
