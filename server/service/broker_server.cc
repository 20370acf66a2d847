#include "server/service/broker_server.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "openssl/rand.h"
#include "server/common/read_file.h"
#include "server/service/keys.h"
#include "server/service/log.h"
#include "wire/canonical.h"

namespace approval {
namespace {

constexpr int kExpireBatch = 100;
constexpr char kServiceName[] = "approval.v1.ApprovalBroker";

TlsFiles TlsFilesOf(const TlsConfig& tls) {
  return TlsFiles{tls.cert_file, tls.key_file, tls.client_ca_file};
}

// Wakes the webhook dispatcher on every committed event the hub sees.
class WebhookWake final : public EventSink {
 public:
  explicit WebhookWake(WebhookDispatcher& dispatcher)
      : dispatcher_(dispatcher) {}
  void OnEvent(const std::shared_ptr<const ApprovalEvent>&) override {
    dispatcher_.Wake();
  }

 private:
  WebhookDispatcher& dispatcher_;
};

// The webhook queue on the broker's database; null without endpoints.
absl::StatusOr<std::unique_ptr<WebhookQueue>> OpenWebhookQueue(
    const Config& c) {
  if (c.webhooks.endpoints.empty()) return nullptr;
  if (c.database_url.empty()) {
    return absl::InvalidArgumentError(
        "webhooks: endpoints need database_url (deliveries are kept in "
        "PostgreSQL)");
  }
  const int connections =
      std::min<int>(8, static_cast<int>(c.webhooks.endpoints.size()) + 1);
  return WebhookQueue::Open(c.database_url, connections,
                            c.database_statement_timeout);
}

ServiceOptions ServiceOptionsFrom(const Config& c, WebhookQueue* webhooks) {
  ServiceOptions o;
  o.webhook_deliveries = webhooks;
  o.limits = c.limits;
  o.stream_max_backlog = c.stream_max_backlog;
  o.stream_overflow_grace = c.stream_overflow_grace;
  return o;
}

// The fingerprint key from its file, or a random one (logged: fingerprints
// then change with every restart).
absl::StatusOr<std::string> FingerprintKey(const Config& c) {
  if (c.fingerprint_key_file.empty()) {
    LogWarning(
        Event{"fingerprint_key_random"},
        "fingerprint_key_file not set: masked values are fingerprinted with "
        "a random per-process key (fingerprints change on restart and differ "
        "across replicas)");
    std::string key(kMinFingerprintKeyBytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()),
                   static_cast<int>(key.size())) != 1) {
      return absl::InternalError("fingerprint key: no randomness available");
    }
    return key;
  }
  absl::StatusOr<std::string> key = ReadFile(c.fingerprint_key_file, 4096);
  if (!key.ok()) return key.status();
  if (key->size() < kMinFingerprintKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("fingerprint_key_file: ", c.fingerprint_key_file,
                     " holds ", key->size(), " bytes, at least ",
                     kMinFingerprintKeyBytes, " are needed"));
  }
  return key;
}

}  // namespace

BrokerServer::BrokerServer(const Config& config, ApprovalStore& store,
                           const Authenticator& auth, BrokerMetrics& metrics,
                           CrossProcessSignal* signal,
                           std::string fingerprint_key,
                           std::shared_ptr<const TokenSigner> signer,
                           AuditKeyring keys, TokenIssuerOptions token_options,
                           std::shared_ptr<const ActivePolicy> policy,
                           std::unique_ptr<WebhookQueue> webhook_queue)
    : config_(config),
      store_(store),
      metrics_(metrics),
      fingerprint_key_(std::move(fingerprint_key)),
      issuer_(std::move(signer), std::move(keys), std::move(token_options)),
      policy_(std::move(policy)),
      executor_(config.worker_threads),
      hub_(store, config.event_poll_interval, &metrics, signal),
      webhook_queue_(std::move(webhook_queue)),
      service_(store, auth, hub_, executor_, metrics, policy_, issuer_,
               ServiceOptionsFrom(config, webhook_queue_.get())) {}

absl::StatusOr<std::unique_ptr<BrokerServer>> BrokerServer::Start(
    const Config& config, ApprovalStore& store, const Authenticator& auth,
    BrokerMetrics& metrics, CrossProcessSignal* signal) {
  std::unique_ptr<ReloadableTls> tls;
  if (config.tls.enabled()) {
    absl::StatusOr<std::unique_ptr<ReloadableTls>> loaded =
        ReloadableTls::Create(TlsFilesOf(config.tls));
    if (!loaded.ok()) return loaded.status();
    tls = *std::move(loaded);
  }
  absl::StatusOr<std::string> fingerprint_key = FingerprintKey(config);
  if (!fingerprint_key.ok()) return fingerprint_key.status();
  absl::StatusOr<std::shared_ptr<const TokenSigner>> signer =
      LoadSigningKey(config);
  if (!signer.ok()) return signer.status();
  absl::StatusOr<AuditKeyring> keys = LoadAuditKeyring(config, **signer);
  if (!keys.ok()) return keys.status();
  absl::StatusOr<std::vector<PublishedKey>> retired = LoadRetiredKeys(config);
  if (!retired.ok()) return retired.status();
  TokenIssuerOptions token_options{config.approval_tokens.issuer,
                                   config.approval_tokens.audience,
                                   *std::move(retired)};
  absl::StatusOr<std::shared_ptr<const ActivePolicy>> policy =
      LoadActivePolicy(config.policy_file, config.limits, *fingerprint_key);
  if (!policy.ok()) return policy.status();
  absl::StatusOr<std::unique_ptr<WebhookQueue>> webhook_queue =
      OpenWebhookQueue(config);
  if (!webhook_queue.ok()) return webhook_queue.status();
  LogInfo(Event{"policy_loaded"}, "policy: ", (*policy)->source, " (",
          (*policy)->policy.rules.size(),
          " rules); approval tokens and audit events signed "
          "by Ed25519 key ",
          (*signer)->key_id());
  std::unique_ptr<BrokerServer> server(new BrokerServer(
      config, store, auth, metrics, signal, *std::move(fingerprint_key),
      *std::move(signer), *std::move(keys), std::move(token_options),
      *std::move(policy), *std::move(webhook_queue)));
  server->tls_ = std::move(tls);
  if (absl::Status s = server->hub_.Start(); !s.ok()) return s;
  if (server->webhook_queue_ != nullptr) {
    server->webhooks_ = std::make_unique<WebhookDispatcher>(
        config.webhooks, store, *server->webhook_queue_, &metrics);
    if (absl::Status s = server->webhooks_->Start(); !s.ok()) {
      server->hub_.Stop();
      return s;
    }
    server->webhook_wake_ = std::make_unique<WebhookWake>(*server->webhooks_);
    server->hub_.Subscribe(server->webhook_wake_.get(), EventFilter{});
  }

  grpc::EnableDefaultHealthCheckService(true);
  // Reflection lists every registered service, the health service included,
  // and describes those whose descriptors are in the generated pool. gRPC's
  // health service brings none (it uses upb), so ours are linked in here:
  // naming one keeps health.pb.o, and the registration its static
  // initializer does, in a binary linked from static libraries.
  grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address,
                           server->tls_ != nullptr
                               ? server->tls_->credentials()
                               : grpc::InsecureServerCredentials(),
                           &server->port_);
  // Streams wait silently for a long time. Ping idle clients so a vanished
  // agent's stream is closed, and accept the client library's keepalive
  // pings (every 30 s) without calling them abuse.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    server->hub_.Stop();
    return absl::InvalidArgumentError(absl::StrCat(
        "listen_address: cannot listen on \"", config.listen_address, "\""));
  }
  server->SetServing(store.Ping().ok());
  server->maintenance_ =
      std::thread([s = server.get()] { s->MaintenanceLoop(); });
  return server;
}

BrokerServer::~BrokerServer() { Shutdown(); }

absl::Status BrokerServer::ReloadPolicy(const std::string& policy_file) {
  absl::StatusOr<std::shared_ptr<const ActivePolicy>> next =
      LoadActivePolicy(policy_file, config_.limits, fingerprint_key_);
  if (!next.ok()) return next.status();
  LogInfo(Event{"policy_loaded"}, "policy: ", (*next)->source, " (",
          (*next)->policy.rules.size(), " rules)");
  policy_.Replace(*std::move(next));
  return absl::OkStatus();
}

absl::Status BrokerServer::ReloadTls(const TlsConfig& tls) {
  if (tls_ == nullptr || !tls.enabled()) {
    return absl::FailedPreconditionError(
        "tls: turning TLS on or off needs a restart");
  }
  return tls_->Reload(TlsFilesOf(tls));
}

absl::StatusOr<std::shared_ptr<const TokenSigner>>
BrokerServer::ReloadSigningKeys(const Config& next) {
  absl::StatusOr<std::shared_ptr<const TokenSigner>> signer =
      LoadSigningKey(next);
  if (!signer.ok()) return signer.status();
  absl::StatusOr<AuditKeyring> keys = LoadAuditKeyring(next, **signer);
  if (!keys.ok()) return keys.status();
  absl::StatusOr<std::vector<PublishedKey>> retired = LoadRetiredKeys(next);
  if (!retired.ok()) return retired.status();
  const std::string previous = issuer_.current()->signer->key_id();
  if (!keys->Contains(previous)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signing_key_file: ", next.signing_key_file, ": key ",
        (*signer)->key_id(), " replaces key ", previous,
        ", which is in neither approval_tokens.retired_keys nor "
        "audit_trusted_keys: the tokens and audit events it signed would "
        "stop verifying (add its public key, `openssl pkey -in old-key.pem "
        "-pubout`, to approval_tokens.retired_keys)"));
  }
  issuer_.Replace(
      *signer, *std::move(keys),
      TokenIssuerOptions{next.approval_tokens.issuer,
                         next.approval_tokens.audience, *std::move(retired)});
  LogInfo(Event{"signing_key_loaded"},
          "approval tokens and audit events signed by Ed25519 key ",
          (*signer)->key_id());
  return signer;
}

void BrokerServer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (maintenance_.joinable()) maintenance_.join();
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->Shutdown();
    // Streams never end by themselves: the deadline cancels them.
    server_->Shutdown(absl::ToChronoTime(absl::Now() + config_.shutdown_grace));
  }
  if (webhooks_ != nullptr) {
    hub_.Unsubscribe(webhook_wake_.get());
    webhooks_->Stop();
  }
  hub_.Stop();
  // Every call has finished; let the last stream page loads complete before
  // the service they point into goes away.
  executor_.Stop();
}

void BrokerServer::Wait() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&stopping_));
}

void BrokerServer::SetServing(bool serving) {
  {
    absl::MutexLock lock(&mu_);
    if (serving_ != serving) {
      LogInfo(Event{"database_health"}, "database ",
              serving ? "reachable: SERVING" : "unreachable: NOT_SERVING");
    }
    serving_ = serving;
  }
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus(serving);
  health->SetServingStatus(kServiceName, serving);
}

void BrokerServer::MaintenanceLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                               config_.expiry_sweep_interval)) {
        return;
      }
    }
    absl::Status ping = store_.Ping();
    SetServing(ping.ok());
    if (!ping.ok()) {
      metrics_.RecordDatabaseError();
      continue;
    }
    for (;;) {
      absl::StatusOr<std::vector<ApprovalEvent>> expired =
          store_.ExpireDue(kExpireBatch);
      if (!expired.ok()) {
        metrics_.RecordDatabaseError();
        LogWarning(Event{"expiry_sweep_failed"},
                   "expiry sweep failed: ", expired.status().ToString());
        break;
      }
      for (const ApprovalEvent& e : *expired) {
        if (e.approval.decided_at) {
          metrics_.ObserveTimeToDecision(
              "expired", absl::ToDoubleSeconds(*e.approval.decided_at -
                                               e.approval.created_at));
        }
      }
      if (static_cast<int>(expired->size()) < kExpireBatch) break;
    }
    // After expiry: an approval due for both has expired and never escalates.
    for (;;) {
      absl::StatusOr<std::vector<ApprovalEvent>> escalated =
          store_.EscalateDue(kExpireBatch);
      if (!escalated.ok()) {
        metrics_.RecordDatabaseError();
        LogWarning(Event{"escalation_sweep_failed"},
                   "escalation sweep failed: ", escalated.status().ToString());
        break;
      }
      if (static_cast<int>(escalated->size()) < kExpireBatch) break;
    }
    absl::StatusOr<int64_t> pending = store_.CountPending();
    if (pending.ok()) metrics_.SetPending(static_cast<double>(*pending));
    PublishAuditHead();
  }
}

void BrokerServer::PublishAuditHead() {
  // No query at all until a line may be logged again.
  const absl::Time now = absl::Now();
  if (now - published_head_at_ < kAuditHeadLogInterval) return;
  absl::StatusOr<int64_t> latest = store_.LatestCursor();
  if (!latest.ok() || *latest == 0) return;
  if (*latest == published_head_seq_) {
    published_head_at_ = now;  // unchanged: look again an interval later
    return;
  }
  absl::StatusOr<std::vector<AuditEvent>> head =
      store_.AuditEvents(*latest - 1, 1);
  if (!head.ok() || head->empty()) return;
  const AuditEvent& e = head->front();
  // Only a head the broker's keys vouch for is worth recording.
  if (absl::Status s = issuer_.current()->keys.VerifySeal(e); !s.ok()) {
    LogError(Event{"audit_head_unverified"},
             "audit chain head does not verify: ", s.message());
    return;
  }
  published_head_seq_ = e.seq;
  published_head_at_ = now;
  metrics_.SetAuditHead(e.seq);
  LogInfo(Event{"audit_chain_head"}, "audit chain head: seq=", e.seq,
          " hash=", HexEncode(e.hash), " key_id=", e.key_id,
          " signature=", HexEncode(e.signature),
          " (record it outside the database; `audit verify --expect-head ",
          e.seq, ":", HexEncode(e.hash), "` proves nothing was cut off)");
}

}  // namespace approval
