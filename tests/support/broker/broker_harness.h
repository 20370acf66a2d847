// BrokerHarness: a real BrokerServer on 127.0.0.1:<port 0> over a given
// store, with bearer-token identities for tests:
//   agent-1, agent-2            role agent
//   alice, bob                  role reviewer
//   root                        roles admin and agent
//   watcher                     role observer
//   slack-bot                   role observer (a relay with RelayConfig)
//   admin-bot                   role admin (a relay with RelayConfig)
//   agent-bot                   roles agent, observer (a relay with
//                               RelayConfig)
//   reviewer-0 .. reviewer-31   role reviewer
// Tokens are random per harness; only their SHA-256 is written to the
// tokens file, as in production.
#ifndef APPROVAL_TESTS_SUPPORT_BROKER_BROKER_HARNESS_H_
#define APPROVAL_TESTS_SUPPORT_BROKER_BROKER_HARNESS_H_

#include <map>
#include <memory>
#include <string>

#include "approval/v1/approval.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/auth/authenticator.h"
#include "server/config/config.h"
#include "server/service/broker_server.h"
#include "server/service/metrics.h"
#include "server/store/store.h"
#include "tests/support/certs/test_certs.h"

namespace approval::testing {

// Test-friendly defaults: port 0, no metrics listener, fast sweeps.
Config HarnessConfig();

// HarnessConfig serving TLS with pki's server certificate and asking for
// client certificates signed by pki's CA (files written into `dir`).
Config TlsHarnessConfig(const TestPki& pki, const TempDir& dir);

// HarnessConfig with a policy (written into `dir`) whose one rule,
// "two-eyes", needs two approvals for any action.
Config TwoApprovalsConfig(const TempDir& dir);

// TwoApprovalsConfig's rule "two-eyes" for db.*, before it a rule
// "vault" (vault.*, relays_allowed: false) and a rule "secure" (secure.*,
// reviewer_groups [security] = bob); relays slack-bot, admin-bot and
// agent-bot for namespace slack:T0123, and platform identities:
//   slack:T0123/UALICE -> alice    slack:T0123/UBOB -> bob
//   slack:T0123/UROOT  -> root     slack:T0123/UAGENT -> agent-1
//   teams:tenant-1/bob -> bob (a namespace no relay serves)
// and relay teams-bot for namespace teams:tenant-2 (approval-chat's Teams
// tests): teams:tenant-2/alice-oid, bob-oid, agent-oid -> alice, bob,
// agent-1.
// agent-2 acts for alice (auth.on_behalf_of).
Config RelayConfig(const TempDir& dir);

class BrokerHarness {
 public:
  // Starts the server; fails the test (REQUIRE) if it cannot.
  explicit BrokerHarness(ApprovalStore& store, Config config = HarnessConfig(),
                         CrossProcessSignal* signal = nullptr);
  ~BrokerHarness();

  std::string address() const;
  BrokerServer& server() { return *server_; }
  BrokerMetrics& metrics() { return metrics_; }
  const Config& config() const { return config_; }

  // An insecure channel and stub to the server.
  std::unique_ptr<v1::ApprovalBroker::Stub> Stub() const;
  // A client context authenticated as `identity`, with a 30 s deadline.
  std::unique_ptr<grpc::ClientContext> Context(
      const std::string& identity) const;
  const std::string& Token(const std::string& identity) const;

  // Convenience calls as `identity`.
  grpc::Status Request(const std::string& identity,
                       const v1::RequestApprovalRequest& req,
                       v1::RequestApprovalResponse* resp) const;
  grpc::Status Decide(const std::string& identity, const std::string& id,
                      v1::Verdict verdict, v1::DecideResponse* resp) const;
  grpc::Status Get(const std::string& identity, const std::string& id,
                   v1::Approval* resp) const;

 private:
  std::string dir_;
  std::map<std::string, std::string> tokens_;
  Config config_;
  BrokerMetrics metrics_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<BrokerServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

// A request for db.export of `table` with a 10-minute TTL.
v1::RequestApprovalRequest ExportRequest(const std::string& table = "customers",
                                         const std::string& key = "");

// grpc.health.v1.Health/Check for `service` ("" = the whole server), through
// a generic stub on `creds` (null: plaintext): 1 SERVING, 2 NOT_SERVING, -1
// if the call failed.
int HealthStatus(const std::string& address, const std::string& service = "",
                 std::shared_ptr<grpc::ChannelCredentials> creds = nullptr);

// Polls HealthStatus every 50 ms until it equals `want` or `timeout` passes;
// returns the last status seen.
int AwaitHealth(const std::string& address, int want, absl::Duration timeout,
                std::shared_ptr<grpc::ChannelCredentials> creds = nullptr);

// A plain HTTP/1.0 GET on 127.0.0.1:`port`; the whole response, or "" on
// error.
std::string HttpGet(int port, const std::string& path);

// Reads the next stream event; false if the stream ended first.
bool ReadEvent(grpc::ClientReader<v1::DecisionEvent>& reader,
               v1::DecisionEvent* event);

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_BROKER_BROKER_HARNESS_H_
