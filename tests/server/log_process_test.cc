// The broker's log as an operator's collector sees it: every stderr line is
// a JSON object with time, level and event; each call has an access line;
// no bearer token and no request parameter ever reaches the log.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/process/serve_process.h"
#include "wire/canonical.h"

namespace approval::testing {
namespace {

// Test-only credentials and a parameter value that looks like a secret.
constexpr char kAgentToken[] = "log-test-agent-token-7f3a9c";
constexpr char kReviewerToken[] = "log-test-reviewer-token-b81e44";
constexpr char kWrongToken[] = "log-test-not-a-token-d05e12";
constexpr char kSecretValue[] = "sk_live_LOGTEST0123456789abcdef";
constexpr char kParameterMarker[] = "log_test_parameter_marker";

// A config for `dir`: port 0, metrics off, the two identities, `log`.
std::string WriteConfig(const TestDatabase& db, const TempDir& dir,
                        const nlohmann::json& log) {
  const std::string tokens = dir.Write(
      "tokens.json", nlohmann::json{{"tokens",
                                     {{{"sha256", Sha256Hex(kAgentToken)},
                                       {"identity", "agent-log"},
                                       {"roles", {"agent"}}},
                                      {{"sha256", Sha256Hex(kReviewerToken)},
                                       {"identity", "reviewer-log"},
                                       {"roles", {"reviewer"}}}}}}
                         .dump());
  nlohmann::json config = {{"database_url", db.app_url()},
                           {"listen_address", "127.0.0.1:0"},
                           {"metrics_address", ""},
                           {"signing_key_file", TestSigningKeyFile()},
                           {"auth", {{"tokens_file", tokens}}}};
  if (!log.is_null()) config["log"] = log;
  return dir.Write("config.json", config.dump());
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return ctx;
}

// The lines of `log`, without the empty one after the last '\n'.
std::vector<std::string> Lines(const std::string& log) {
  std::vector<std::string> lines = absl::StrSplit(log, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// The JSON access lines of `method` in `log`.
std::vector<nlohmann::json> AccessLines(const std::string& log,
                                        const std::string& method) {
  std::vector<nlohmann::json> out;
  for (const std::string& line : Lines(log)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("event", "") == "rpc" &&
        j.value("method", "") == method) {
      out.push_back(j);
    }
  }
  return out;
}

TEST_CASE(
    "every broker log line is JSON with the required keys, calls have access "
    "lines, and no token or parameter is logged",
    "[log][postgres]") {
  TestDatabase db;
  TempDir dir;
  ServeProcess broker(WriteConfig(db, dir, nullptr), dir.path() + "/serve.log");
  broker.Start();
  auto stub = v1::ApprovalBroker::NewStub(grpc::CreateChannel(
      broker.address(), grpc::InsecureChannelCredentials()));

  v1::RequestApprovalRequest req = ExportRequest();
  req.set_parameters_json(nlohmann::json{
      {"api_key", kSecretValue},
      {kParameterMarker,
       "rows"}}.dump());
  v1::RequestApprovalResponse created;
  grpc::Status s =
      stub->RequestApproval(Context(kAgentToken).get(), req, &created);
  INFO(s.error_message());
  REQUIRE(s.ok());
  const std::string id = created.approval().id();
  v1::GetApprovalRequest get;
  get.set_approval_id(id);
  v1::Approval got;
  REQUIRE(stub->GetApproval(Context(kReviewerToken).get(), get, &got).ok());
  // A refused token must not be echoed either.
  v1::Approval refused;
  CHECK(stub->GetApproval(Context(kWrongToken).get(), get, &refused)
            .error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(broker.Stop() == 0);

  const std::string log = broker.Log();
  INFO(log);
  const std::vector<std::string> lines = Lines(log);
  REQUIRE(lines.size() >= 4);
  for (const std::string& line : lines) {
    INFO(line);
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["time"].is_string());
    CHECK(j["level"].is_string());
    CHECK(j["event"].is_string());
    CHECK(j["message"].is_string());
  }

  const std::vector<nlohmann::json> requests =
      AccessLines(log, "RequestApproval");
  REQUIRE(requests.size() == 1);
  CHECK(requests[0]["caller"] == "agent-log");
  CHECK(requests[0]["code"] == "OK");
  CHECK(requests[0]["approval_id"] == id);
  CHECK(requests[0]["latency_ms"].is_number());
  CHECK(requests[0]["level"] == "info");

  const std::vector<nlohmann::json> gets = AccessLines(log, "GetApproval");
  REQUIRE(gets.size() == 2);
  CHECK(gets[0]["caller"] == "reviewer-log");
  CHECK(gets[0]["code"] == "OK");
  CHECK(gets[0]["approval_id"] == id);
  CHECK_FALSE(gets[1].contains("caller"));
  CHECK(gets[1]["code"] == "UNAUTHENTICATED");
  CHECK(gets[1]["latency_ms"].is_number());

  for (const std::string& secret :
       {std::string(kAgentToken), std::string(kReviewerToken),
        std::string(kWrongToken), std::string(kSecretValue),
        std::string(kParameterMarker), std::string("Bearer ")}) {
    CHECK_THAT(log, !Catch::Contains(secret));
  }
}

TEST_CASE("log.format text writes readable lines the tests still parse",
          "[log][postgres]") {
  TestDatabase db;
  TempDir dir;
  ServeProcess broker(
      WriteConfig(db, dir, {{"format", "text"}, {"level", "info"}}),
      dir.path() + "/serve.log");
  broker.Start();  // finds the port in the text "serving gRPC on" line
  auto stub = v1::ApprovalBroker::NewStub(grpc::CreateChannel(
      broker.address(), grpc::InsecureChannelCredentials()));
  v1::RequestApprovalResponse created;
  REQUIRE(stub->RequestApproval(Context(kAgentToken).get(), ExportRequest(),
                                &created)
              .ok());
  CHECK(broker.Stop() == 0);
  const std::string log = broker.Log();
  INFO(log);
  for (const std::string& line : Lines(log)) {
    CHECK_THAT(line, !Catch::StartsWith("{"));
  }
  CHECK_THAT(log, Catch::Contains(" INFO  rpc: RequestApproval OK "
                                  "method=RequestApproval caller=agent-log"));
  CHECK_THAT(log, Catch::Contains("serving gRPC on " + broker.address()));
}

}  // namespace
}  // namespace approval::testing
