// BrokerServer: a running broker — the gRPC server (ApprovalBroker,
// reflection, grpc.health.v1), the event hub, the executor and a
// maintenance loop that tracks database health, expires overdue approvals
// and refreshes the pending gauge, and (with config.webhooks endpoints) the
// webhook dispatcher, on the PostgreSQL database of config.database_url. Used
// by `approval-broker serve` and by the integration tests (listen on port 0 and
// ask port()).
#ifndef APPROVAL_SERVER_SERVICE_BROKER_SERVER_H_
#define APPROVAL_SERVER_SERVICE_BROKER_SERVER_H_

#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server.h"
#include "server/auth/authenticator.h"
#include "server/config/config.h"
#include "server/domain/token_signer.h"
#include "server/policy/active_policy.h"
#include "server/service/broker_service.h"
#include "server/service/event_hub.h"
#include "server/service/executor.h"
#include "server/service/metrics.h"
#include "server/service/token_issuer.h"
#include "server/store/store.h"
#include "server/webhook/delivery_queue.h"
#include "server/webhook/dispatcher.h"

namespace approval {

class BrokerServer final {
 public:
  // Starts serving on config.listen_address. UNAVAILABLE if the store cannot
  // be read at start; INVALID_ARGUMENT if TLS files, the policy file or the
  // key files cannot be read or are invalid, or the address cannot be bound.
  // `store`, `auth`, `metrics` and `signal` (may be null: other brokers'
  // commits are then seen at the next poll) must outlive the server.
  static absl::StatusOr<std::unique_ptr<BrokerServer>> Start(
      const Config& config, ApprovalStore& store, const Authenticator& auth,
      BrokerMetrics& metrics, CrossProcessSignal* signal = nullptr);
  ~BrokerServer();  // Shutdown()

  // The bound port (useful with port 0).
  int port() const { return port_; }
  // Re-reads config.policy_file (SIGHUP). On success new requests and
  // reviews meet the new policy; streams and pending approvals carry on. On
  // failure the previous policy stays in force and the error (naming file,
  // rule and field) is logged, counted and returned.
  absl::Status ReloadPolicy();
  // Stops accepting calls, ends open streams, waits up to the configured
  // grace for calls in flight. Idempotent.
  void Shutdown();
  // Blocks until Shutdown() has been called (from another thread).
  void Wait();

 private:
  BrokerServer(const Config& config, ApprovalStore& store,
               const Authenticator& auth, BrokerMetrics& metrics,
               CrossProcessSignal* signal, std::string fingerprint_key,
               std::shared_ptr<const TokenSigner> signer, AuditKeyring keys,
               TokenIssuerOptions token_options,
               std::shared_ptr<const ActivePolicy> policy,
               std::unique_ptr<WebhookQueue> webhook_queue);
  void MaintenanceLoop();
  void SetServing(bool serving);
  // Logs the latest sealed audit event (seq, hash, seal) and sets the head
  // metric, when it moved and at most every kAuditHeadLogInterval: the
  // outside record `audit verify --expect-head` compares with.
  void PublishAuditHead();

  static constexpr absl::Duration kAuditHeadLogInterval = absl::Seconds(60);

  const Config config_;
  ApprovalStore& store_;
  BrokerMetrics& metrics_;
  const std::string fingerprint_key_;
  const std::shared_ptr<const TokenSigner> signer_;
  const TokenIssuer issuer_;
  PolicyHolder policy_;
  Executor executor_;
  EventHub hub_;
  // Webhooks (config.webhooks): null when no endpoint is configured.
  const std::unique_ptr<WebhookQueue> webhook_queue_;
  std::unique_ptr<WebhookDispatcher> webhooks_;
  std::unique_ptr<EventSink> webhook_wake_;  // wakes webhooks_ on commits
  BrokerService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  std::thread maintenance_;
  // Maintenance thread only.
  int64_t published_head_seq_ = 0;
  absl::Time published_head_at_ = absl::InfinitePast();
};

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_BROKER_SERVER_H_
