// The gRPC service over MemoryStore: every shared scenario, plus what only
// an in-memory store can show cheaply (a waiting stream costs no thread, a
// store outage is reported and recovered).
#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "server/store/memory_store.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/broker/scenarios.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/keys/test_keys.h"

namespace approval::testing {
namespace {

int ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  FAIL("no Threads: line in /proc/self/status");
  return -1;
}

TEST_CASE("service scenarios over MemoryStore", "[service][memory]") {
  for (const Scenario& s : ServiceScenarios()) {
    DYNAMIC_SECTION(s.name) {
      MemoryStore store(absl::Now, testing::TestSigner());
      BrokerHarness h(store);
      s.run(h, store);
    }
  }
}

// BrokerServer::Start with `config` over a fresh MemoryStore; its status.
absl::Status StartWith(const Config& config) {
  MemoryStore store(absl::Now, testing::TestSigner());
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(config.auth);
  if (!auth.ok()) return auth.status();
  BrokerMetrics metrics;
  return BrokerServer::Start(config, store, **auth, metrics).status();
}

TEST_CASE(
    "the broker refuses to start without a signing key, or with an "
    "audit key that is not one",
    "[service][memory][keys]") {
  TempDir dir;
  Config config = HarnessConfig();
  config.auth.tokens_file = dir.Write("tokens.json", R"({"tokens": []})");
  REQUIRE(StartWith(config).ok());

  Config no_key = config;
  no_key.signing_key_file.clear();
  absl::Status s = StartWith(no_key);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Catch::StartsWith("signing_key_file"));

  Config bad_trusted = config;
  const std::string not_a_key = dir.Write("old.pub.pem", "not a key");
  bad_trusted.audit_trusted_keys = {not_a_key};
  s = StartWith(bad_trusted);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("audit_trusted_keys: " + not_a_key));

  // A retired public key is a valid audit key.
  Config rotated = config;
  rotated.audit_trusted_keys = {
      dir.Write("retired.pub.pem", TokenSigner::Generate()->public_key_pem())};
  CHECK(StartWith(rotated).ok());
}

TEST_CASE("waiting StreamDecisions calls hold no server thread",
          "[service][memory]") {
  MemoryStore store(absl::Now, testing::TestSigner());
  BrokerHarness h(store);
  v1::RequestApprovalResponse created;
  REQUIRE(h.Request("agent-1", ExportRequest(), &created).ok());
  const std::string id = created.approval().id();

  // Warm up: one stream, so gRPC's own lazily started threads exist.
  auto stub = h.Stub();
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::DecisionEvent>>> readers;
  v1::StreamDecisionsRequest req;
  req.add_approval_ids(id);
  auto open_one = [&] {
    contexts.push_back(h.Context("agent-1"));
    readers.push_back(stub->StreamDecisions(contexts.back().get(), req));
    // The call is established once its initial metadata is back.
    readers.back()->WaitForInitialMetadata();
  };
  open_one();
  int before = ThreadCount();
  constexpr int kStreams = 300;
  for (int i = 0; i < kStreams; ++i) open_one();
  int after = ThreadCount();
  INFO("threads before " << before << ", after " << kStreams
                         << " more waiting streams: " << after);
  CHECK(after - before < 20);

  // And every one of them is really waiting: one decision reaches all.
  v1::DecideResponse decided;
  REQUIRE(h.Decide("alice", id, v1::APPROVE, &decided).ok());
  for (auto& reader : readers) {
    v1::DecisionEvent event;
    REQUIRE(reader->Read(&event));
    CHECK(event.type() == v1::EVENT_APPROVED);
  }
  for (auto& ctx : contexts) ctx->TryCancel();
}

TEST_CASE("an unavailable store fails calls UNAVAILABLE and health follows",
          "[service][memory]") {
  MemoryStore store(absl::Now, testing::TestSigner());
  BrokerHarness h(store);
  REQUIRE(AwaitHealth(h.address(), 1, absl::Seconds(10)) == 1);
  store.SetUnavailable(true);
  v1::RequestApprovalResponse resp;
  grpc::Status s = h.Request("agent-1", ExportRequest(), &resp);
  CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(AwaitHealth(h.address(), 2, absl::Seconds(10)) == 2);
  store.SetUnavailable(false);
  CHECK(AwaitHealth(h.address(), 1, absl::Seconds(10)) == 1);
  CHECK(h.Request("agent-1", ExportRequest(), &resp).ok());
}

}  // namespace
}  // namespace approval::testing
