#include "tests/support/broker/broker_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/generic/generic_stub.h"
#include "nlohmann/json.hpp"
#include "tests/support/keys/test_keys.h"
#include "wire/canonical.h"

namespace approval::testing {
namespace {

std::string RandomToken() {
  unsigned char b[24];
  REQUIRE(RAND_bytes(b, sizeof(b)) == 1);
  return HexEncode(absl::string_view(reinterpret_cast<char*>(b), sizeof(b)));
}

std::map<std::string, std::vector<std::string>> Identities() {
  std::map<std::string, std::vector<std::string>> ids = {
      {"agent-1", {"agent"}},
      {"agent-2", {"agent"}},
      {"alice", {"reviewer"}},
      {"bob", {"reviewer"}},
      {"root", {"admin", "agent"}},
      {"watcher", {"observer"}},
      // Bots for relay tests (RelayConfig): plain, admin, agent.
      {"slack-bot", {"observer"}},
      {"admin-bot", {"admin"}},
      {"agent-bot", {"agent", "observer"}},
      {"teams-bot", {"observer"}},
  };
  for (int i = 0; i < 32; ++i) ids[absl::StrCat("reviewer-", i)] = {"reviewer"};
  return ids;
}

}  // namespace

Config HarnessConfig() {
  Config c;
  c.database_url = "unused://harness";
  c.listen_address = "127.0.0.1:0";
  c.metrics_address = "";
  c.database_pool_size = 4;
  c.expiry_sweep_interval = absl::Milliseconds(100);
  c.event_poll_interval = absl::Milliseconds(500);
  c.shutdown_grace = absl::Seconds(1);
  // The same key as the stores of tests/support (TestSigner), as replicas
  // on one database share one signing_key_file.
  c.signing_key_file = TestSigningKeyFile();
  return c;
}

Config TlsHarnessConfig(const TestPki& pki, const TempDir& dir) {
  Config c = HarnessConfig();
  KeyPair server = pki.Server();
  c.tls.cert_file = dir.Write("server.crt", server.cert_pem);
  c.tls.key_file = dir.Write("server.key", server.key_pem);
  c.tls.client_ca_file = dir.Write("ca.crt", pki.ca().cert_pem);
  return c;
}

Config TwoApprovalsConfig(const TempDir& dir) {
  Config c = HarnessConfig();
  c.policy_file = dir.Write("policy.json",
                            R"({"rules": [{"name": "two-eyes", "action": "*",
                     "approvals_required": 2}]})");
  return c;
}

Config RelayConfig(const TempDir& dir) {
  Config c = HarnessConfig();
  c.policy_file = dir.Write("policy.json", R"({
    "groups": {"security": ["bob"]},
    "rules": [
      {"name": "vault", "action": "vault.*", "relays_allowed": false},
      {"name": "secure", "action": "secure.*",
       "reviewer_groups": ["security"]},
      {"name": "two-eyes", "action": "*", "approvals_required": 2}]})");
  c.auth.principals = {
      {"alice",
       {"token:alice", "slack:T0123/UALICE", "teams:tenant-2/alice-oid"}},
      {"bob",
       {"token:bob", "slack:T0123/UBOB", "teams:tenant-1/bob",
        "teams:tenant-2/bob-oid"}},
      {"root", {"token:root", "slack:T0123/UROOT"}},
      {"agent-1",
       {"token:agent-1", "slack:T0123/UAGENT", "teams:tenant-2/agent-oid"}},
  };
  c.auth.on_behalf_of = {{"token:agent-2", "alice"}};
  c.auth.relays = {{"token:slack-bot", "slack:T0123"},
                   {"token:admin-bot", "slack:T0123"},
                   {"token:agent-bot", "slack:T0123"},
                   {"token:teams-bot", "teams:tenant-2"}};
  return c;
}

BrokerHarness::BrokerHarness(ApprovalStore& store, Config config,
                             CrossProcessSignal* signal)
    : config_(std::move(config)) {
  char tmpl[] = "/tmp/approval-harness-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  dir_ = tmpl;
  nlohmann::json file = {{"tokens", nlohmann::json::array()}};
  for (const auto& [identity, roles] : Identities()) {
    std::string token = RandomToken();
    tokens_[identity] = token;
    file["tokens"].push_back({{"sha256", Sha256Hex(token)},
                              {"identity", identity},
                              {"roles", roles}});
  }
  std::string tokens_path = dir_ + "/tokens.json";
  std::ofstream(tokens_path) << file.dump(2);
  config_.auth.tokens_file = tokens_path;

  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(config_.auth);
  INFO(auth.status().ToString());
  REQUIRE(auth.ok());
  auth_ = *std::move(auth);
  absl::StatusOr<std::unique_ptr<BrokerServer>> server =
      BrokerServer::Start(config_, store, *auth_, metrics_, signal);
  INFO(server.status().ToString());
  REQUIRE(server.ok());
  server_ = *std::move(server);
  channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

BrokerHarness::~BrokerHarness() {
  server_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string BrokerHarness::address() const {
  return absl::StrCat("127.0.0.1:", server_->port());
}

std::unique_ptr<v1::ApprovalBroker::Stub> BrokerHarness::Stub() const {
  return v1::ApprovalBroker::NewStub(channel_);
}

const std::string& BrokerHarness::Token(const std::string& identity) const {
  auto it = tokens_.find(identity);
  REQUIRE(it != tokens_.end());
  return it->second;
}

std::unique_ptr<grpc::ClientContext> BrokerHarness::Context(
    const std::string& identity) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + Token(identity));
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return ctx;
}

grpc::Status BrokerHarness::Request(const std::string& identity,
                                    const v1::RequestApprovalRequest& req,
                                    v1::RequestApprovalResponse* resp) const {
  return Stub()->RequestApproval(Context(identity).get(), req, resp);
}

grpc::Status BrokerHarness::Decide(const std::string& identity,
                                   const std::string& id, v1::Verdict verdict,
                                   v1::DecideResponse* resp) const {
  v1::DecideRequest req;
  req.set_approval_id(id);
  req.set_verdict(verdict);
  req.set_comment("decided by " + identity);
  return Stub()->Decide(Context(identity).get(), req, resp);
}

grpc::Status BrokerHarness::Get(const std::string& identity,
                                const std::string& id,
                                v1::Approval* resp) const {
  v1::GetApprovalRequest req;
  req.set_approval_id(id);
  return Stub()->GetApproval(Context(identity).get(), req, resp);
}

v1::RequestApprovalRequest ExportRequest(const std::string& table,
                                         const std::string& key) {
  v1::RequestApprovalRequest req;
  req.set_action("db.export");
  req.set_resource("postgres://prod/" + table);
  req.set_parameters_json(R"({"table":")" + table + R"(","rows":1200})");
  req.set_justification("quarterly report");
  req.set_idempotency_key(key);
  req.mutable_ttl()->set_seconds(600);
  return req;
}

int HealthStatus(const std::string& address, const std::string& service,
                 std::shared_ptr<grpc::ChannelCredentials> creds) {
  auto channel = grpc::CreateChannel(
      address, creds != nullptr ? creds : grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  // HealthCheckRequest{service}: field 1, length-delimited.
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0a);
    request.push_back(static_cast<char>(service.size()));
    request += service;
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request_buffer, &response_buffer,
                 [&done](grpc::Status s) { done.set_value(s); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return -1;
  std::string response;
  for (const grpc::Slice& s : slices) {
    response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // HealthCheckResponse{status}: field 1, varint; absent means UNKNOWN (0).
  if (response.size() >= 2 && response[0] == 0x08) return response[1];
  return 0;
}

int AwaitHealth(const std::string& address, int want, absl::Duration timeout,
                std::shared_ptr<grpc::ChannelCredentials> creds) {
  absl::Time give_up = absl::Now() + timeout;
  int seen = HealthStatus(address, "", creds);
  while (seen != want && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(50));
    seen = HealthStatus(address, "", creds);
  }
  return seen;
}

// A plain HTTP/1.0 GET on loopback; the whole response, or "" on error.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fd);
  return out;
}

bool ReadEvent(grpc::ClientReader<v1::DecisionEvent>& reader,
               v1::DecisionEvent* event) {
  return reader.Read(event);
}

}  // namespace approval::testing
