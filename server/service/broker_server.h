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
#include "server/auth/reloadable_tls.h"
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
  // SIGHUP reloads, one component each, atomic: on success calls that start
  // from now on use the new one, calls in flight finish with the one they
  // began with; on failure the previous one stays in force and the error
  // (naming the key and file) is returned. The caller logs and counts.
  //
  // Reads `policy_file` (as config.policy_file, "" = built-in default). New
  // requests and reviews meet the new policy; streams and pending approvals
  // carry on.
  absl::Status ReloadPolicy(const std::string& policy_file);
  // Reads tls.cert_file, key_file and client_ca_file (ReloadableTls): new
  // handshakes use them. FAILED_PRECONDITION when the server runs without
  // TLS or `tls` turns it off (a restart changes that).
  absl::Status ReloadTls(const TlsConfig& tls);
  // Reads signing_key_file, approval_tokens (issuer, audience, retired_keys)
  // and audit_trusted_keys of `next`: tokens are signed with the new key,
  // GetSigningKey publishes it with the retired keys still in their overlap.
  // Returns the signing key, for the store's audit seals. INVALID_ARGUMENT
  // as at start, or when the signing key changed and the previous one is in
  // neither approval_tokens.retired_keys nor audit_trusted_keys (what it
  // signed would stop verifying).
  absl::StatusOr<std::shared_ptr<const TokenSigner>> ReloadSigningKeys(
      const Config& next);
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
  TokenIssuer issuer_;
  // Server TLS material (config.tls); null for plaintext.
  std::unique_ptr<ReloadableTls> tls_;
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
