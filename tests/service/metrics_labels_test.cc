// Metric labels never take a value a caller chose (server/service/metrics.h):
// requests are counted by the operator's policy rule, not the agent's
// action, and every label value outside its closed set is recorded as
// "other".
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "absl/time/clock.h"
#include "grpcpp/generic/generic_stub.h"
#include "prometheus/text_serializer.h"
#include "server/service/metrics.h"
#include "server/store/memory_store.h"
#include "server/store/terminal_cache.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/keys/test_keys.h"

namespace approval::testing {
namespace {

using Catch::Contains;

std::string Text(const BrokerMetrics& metrics) {
  return prometheus::TextSerializer().Serialize(metrics.registry()->Collect());
}

// A policy file in a fresh temporary directory, removed with the object.
class PolicyFile {
 public:
  explicit PolicyFile(const std::string& text) {
    char tmpl[] = "/tmp/approval-metrics-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    std::ofstream(path()) << text;
  }
  ~PolicyFile() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string path() const { return dir_ + "/policy.json"; }

 private:
  std::string dir_;
};

v1::RequestApprovalRequest Request(const std::string& action,
                                   const std::string& justification,
                                   const std::string& key) {
  v1::RequestApprovalRequest req;
  req.set_action(action);
  req.set_resource("postgres://prod/customers");
  req.set_parameters_json(R"({"rows":1})");
  req.set_justification(justification);
  req.set_idempotency_key(key);
  return req;
}

TEST_CASE("requests are counted by policy rule, never by the agent's action",
          "[service][memory][metrics]") {
  PolicyFile policy(R"({"rules": [{"name": "exports", "action": "db.export",
                                   "justification_required": true}]})");
  Config config = HarnessConfig();
  config.policy_file = policy.path();
  MemoryStore store(absl::Now, testing::TestSigner());
  BrokerHarness h(store, config);
  v1::RequestApprovalResponse resp;

  REQUIRE(
      h.Request("agent-1", Request("db.export", "report", "k1"), &resp).ok());
  REQUIRE(
      h.Request("agent-1", Request("db.export", "report", "k1"), &resp).ok());
  CHECK(h.Request("agent-1", Request("db.export", "", "k2"), &resp)
            .error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  // An action of the agent's own making, one per call, matches no rule.
  for (const char* action : {"agent.invented-1", "agent.invented-2"}) {
    REQUIRE(h.Request("agent-1", Request(action, "x", ""), &resp).ok());
    CHECK(resp.approval().state() == v1::DENIED);
  }
  // Refused before any rule is consulted.
  CHECK(h.Request("agent-1", Request("", "x", ""), &resp).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);

  const std::string text = Text(h.metrics());
  INFO(text);
  CHECK_THAT(text, Contains(R"(approval_requests_total{outcome="created",)"
                            R"(rule="exports"} 1)"));
  CHECK_THAT(text,
             Contains(R"(approval_requests_total{)"
                      R"(outcome="idempotent_replay",rule="exports"} 1)"));
  CHECK_THAT(text,
             Contains(R"(approval_requests_total{outcome="invalid_argument",)"
                      R"(rule="exports"} 1)"));
  CHECK_THAT(text, Contains(R"(approval_requests_total{outcome="auto_denied",)"
                            R"(rule="no-rule-matched"} 2)"));
  CHECK_THAT(text,
             Contains(R"(approval_requests_total{outcome="invalid_argument",)"
                      R"x(rule="(invalid)"} 1)x"));
  CHECK_THAT(text, !Contains("invented"));
  CHECK_THAT(text, !Contains("action="));
}

TEST_CASE("a call to a method the service does not have leaves no label",
          "[service][memory][metrics]") {
  MemoryStore store(absl::Now, testing::TestSigner());
  BrokerHarness h(store);
  grpc::GenericStub stub(
      grpc::CreateChannel(h.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/approval.v1.ApprovalBroker/InventedMethod",
                 grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  CHECK(done.get_future().get().error_code() ==
        grpc::StatusCode::UNIMPLEMENTED);
  CHECK_THAT(Text(h.metrics()), !Contains("InventedMethod"));
}

TEST_CASE("label values outside their closed sets are recorded as other",
          "[metrics]") {
  BrokerMetrics m;
  m.RecordRequest("rule with spaces", "made_up_outcome");
  m.RecordDecision("maybe");
  m.RecordRefusal("not_a_code", "Reason: with text");
  m.ObserveRpc("InventedMethod", "teapot", 0.1);
  m.ObserveTimeToDecision("forgotten", 1);
  // Values from the sets pass unchanged.
  m.RecordRequest("prod.exports-2_b", "created");
  m.ObserveRpc("Decide", "permission_denied", 0.1);
  m.RecordRefusal("unauthenticated", "unknown_token");

  const std::string text = Text(m);
  INFO(text);
  CHECK_THAT(text, Contains(R"(approval_requests_total{outcome="other",)"
                            R"(rule="other"} 1)"));
  CHECK_THAT(text, Contains(R"(approval_decisions_total{verdict="other"} 1)"));
  CHECK_THAT(text, Contains(R"(approval_refusals_total{code="other",)"
                            R"(reason="other"} 1)"));
  CHECK_THAT(text, Contains(R"(approval_rpc_duration_seconds_count{)"
                            R"(code="other",method="other"} 1)"));
  CHECK_THAT(text, Contains(R"(approval_time_to_decision_seconds_count{)"
                            R"(outcome="other"} 1)"));
  CHECK_THAT(text, Contains(R"(approval_requests_total{outcome="created",)"
                            R"(rule="prod.exports-2_b"} 1)"));
  CHECK_THAT(text, Contains(R"(approval_rpc_duration_seconds_count{)"
                            R"(code="permission_denied",method="Decide"} 1)"));
  CHECK_THAT(text, Contains(R"(approval_refusals_total{code="unauthenticated",)"
                            R"(reason="unknown_token"} 1)"));
  for (const char* chosen : {"spaces", "made_up", "maybe", "Reason", "teapot",
                             "Invented", "forgotten", "not_a_code"}) {
    CHECK_THAT(text, !Contains(chosen));
  }
}

TEST_CASE("terminal cache lookups are counted as hit or miss", "[metrics]") {
  BrokerMetrics m;
  TerminalCache::Options options;
  options.capacity = 10;
  options.on_lookup = [&m](bool hit) { m.RecordTerminalCacheLookup(hit); };
  TerminalCache cache(options);
  Approval denied;
  denied.id = "a";
  denied.state = State::kDenied;
  cache.Insert(denied);
  cache.Lookup("a");
  cache.Lookup("a");
  cache.Lookup("b");

  const std::string text = Text(m);
  INFO(text);
  CHECK_THAT(
      text,
      Contains(R"(approval_terminal_cache_lookups_total{result="hit"} 2)"));
  CHECK_THAT(
      text,
      Contains(R"(approval_terminal_cache_lookups_total{result="miss"} 1)"));
}

}  // namespace
}  // namespace approval::testing
