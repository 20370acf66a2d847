// The review policy in the approval-broker process: no raw secret from a
// request's parameters reaches the database, a stream or the log; SIGHUP
// reloads the policy file and keeps the old one when the new one is bad.
#include <signal.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/process/serve_process.h"
#include "wire/canonical.h"

namespace approval::testing {
namespace {

// Tokens of the process's identities (test-only values).
const std::map<std::string, std::pair<std::string, std::string>>& Identities() {
  static const auto* const kIdentities =
      new std::map<std::string, std::pair<std::string, std::string>>{
          {"agent-1", {"policy-test-agent-token", "agent"}},
          {"alice", {"policy-test-alice-token", "reviewer"}},
          {"bob", {"policy-test-bob-token", "reviewer"}},
          {"mallory", {"policy-test-mallory-token", "reviewer"}},
          {"auditor", {"policy-test-auditor-token", "admin"}},
      };
  return *kIdentities;
}

// A running `approval-broker serve` with the test's identities and policy.
class BrokerProcess final {
 public:
  BrokerProcess(const TestDatabase& db, const TempDir& dir,
                const std::string& policy_file)
      : process_(WriteConfig(db, dir, policy_file), dir.path() + "/serve.log") {
    process_.Start();
    stub_ = v1::ApprovalBroker::NewStub(grpc::CreateChannel(
        process_.address(), grpc::InsecureChannelCredentials()));
  }

  ~BrokerProcess() {
    if (stub_ != nullptr) Stop();
  }

  v1::ApprovalBroker::Stub& stub() { return *stub_; }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& identity) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization",
                     "Bearer " + Identities().at(identity).first);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  std::string Log() const { return process_.Log(); }

  std::string Metrics() const {
    return HttpGet(process_.metrics_port(), "/metrics");
  }

  void Signal(int sig) { process_.Signal(sig); }

  // Bounded wait until /metrics contains `line`.
  bool AwaitMetric(const std::string& line) const {
    absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (absl::Now() < give_up) {
      if (Metrics().find(line) != std::string::npos) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // SIGTERM and wait for a clean exit.
  void Stop() {
    stub_.reset();
    CHECK(process_.Stop() == 0);
  }

 private:
  // The config file: gRPC and metrics on port 0, the identities' tokens.
  static std::string WriteConfig(const TestDatabase& db, const TempDir& dir,
                                 const std::string& policy_file) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& [identity, token_role] : Identities()) {
      tokens.push_back({{"sha256", Sha256Hex(token_role.first)},
                        {"identity", identity},
                        {"roles", {token_role.second}}});
    }
    const std::string tokens_file =
        dir.Write("tokens.json", nlohmann::json{{"tokens", tokens}}.dump());
    const std::string key_file = dir.Write(
        "fingerprint.key", "test-only fingerprint key, 32+ bytes long");
    return dir.Write("config.json",
                     nlohmann::json{{"database_url", db.app_url()},
                                    {"listen_address", "127.0.0.1:0"},
                                    {"metrics_address", "127.0.0.1:0"},
                                    {"policy_file", policy_file},
                                    {"fingerprint_key_file", key_file},
                                    {"signing_key_file", TestSigningKeyFile()},
                                    {"auth", {{"tokens_file", tokens_file}}}}
                         .dump());
  }

  ServeProcess process_;
  std::unique_ptr<v1::ApprovalBroker::Stub> stub_;
};

std::string PolicyWith(const std::string& rule_name) {
  return nlohmann::json{
      {"groups", {{"data-team", {"alice", "bob"}}}},
      {"rules",
       {{{"name", rule_name},
         {"action", "db.export"},
         {"reviewer_groups", {"data-team"}},
         {"approvals_required", 2}},
        {{"name", "everything-else"}, {"action", "*"}}}},
      {"masking",
       {{"paths", {{{"path", "$.customer.notes"}, {"label", "notes"}}}}}}}
      .dump(2);
}

// Raw sensitive values, as an agent would send them.
struct Secret {
  std::string what;
  std::string value;
};
const std::vector<Secret>& Secrets() {
  static const auto* const kSecrets = new std::vector<Secret>{
      {"email", "jane.doe@example.com"},
      {"payment card", "4111 1111 1111 1111"},
      {"payment card digits", "4111111111111111"},
      {"US SSN", "123-45-6789"},
      {"IBAN", "DE89370400440532013000"},
      {"AWS access key", "AKIAIOSFODNN7EXAMPLE"},
      {"JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lIn0"},
      {"bearer token", "dGhpcy1pcy1hLWJlYXJlci1zZWNyZXQ"},
      {"PEM key body", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"},
      {"path-masked value", "prefers-contact-by-phone-7731"},
  };
  return *kSecrets;
}

v1::RequestApprovalRequest SecretRequest() {
  nlohmann::json params = {
      {"table", "customers"},
      {"rows",
       {{{"email", "jane.doe@example.com"},
         {"card", "4111 1111 1111 1111"},
         {"card_as_number", 4111111111111111ULL},
         {"ssn", "123-45-6789"},
         {"iban", "DE89370400440532013000"}}}},
      {"aws", "AKIAIOSFODNN7EXAMPLE"},
      {"session",
       "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJlLXNlY3JldA"},
      {"headers",
       {{"Authorization", "Bearer dGhpcy1pcy1hLWJlYXJlci1zZWNyZXQ"}}},
      {"key",
       "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
       "-----END PRIVATE KEY-----\n"},
      {"customer", {{"notes", "prefers-contact-by-phone-7731"}}}};
  v1::RequestApprovalRequest req;
  req.set_action("db.export");
  req.set_resource("postgres://prod/customers?owner=jane.doe@example.com");
  req.set_parameters_json(params.dump());
  req.set_justification("export rows of jane.doe@example.com for the audit");
  req.mutable_ttl()->set_seconds(600);
  return req;
}

// Every row of every table in the database, as text.
std::string DumpAllTables(const TestDatabase& db) {
  pqxx::connection c(db.admin_url());
  pqxx::work tx(c);
  std::string dump;
  int tables = 0;
  for (const pqxx::row& t :
       tx.exec("SELECT quote_ident(table_name) FROM information_schema.tables "
               "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")) {
    ++tables;
    const std::string name = t[0].as<std::string>();
    for (const pqxx::row& r :
         tx.exec(absl::StrCat("SELECT t::text FROM ", name, " t"))) {
      absl::StrAppend(&dump, name, ": ", r[0].as<std::string>(), "\n");
    }
  }
  // approvals, audit_events, audit_chain_head, reviews, schema_migrations
  CHECK(tables >= 5);
  return dump;
}

void CheckNoSecretIn(const std::string& where, const std::string& text) {
  for (const Secret& s : Secrets()) {
    INFO(where << " contains the raw " << s.what);
    CHECK(text.find(s.value) == std::string::npos);
  }
}

TEST_CASE(
    "a raw secret submitted in parameters is in no table, stream event "
    "or log line",
    "[policy][postgres][process]") {
  TestDatabase db;
  TempDir dir;
  const std::string policy = dir.Write("policy.json", PolicyWith("export"));
  BrokerProcess broker(db, dir, policy);
  std::string seen;  // everything the API returned

  // A reviewer watching everything, opened before the request.
  auto watch_ctx = broker.Context("alice");
  auto watcher = broker.stub().StreamDecisions(watch_ctx.get(),
                                               v1::StreamDecisionsRequest());
  REQUIRE(broker.AwaitMetric("approval_decision_streams_open 1"));
  v1::RequestApprovalRequest req = SecretRequest();
  v1::RequestApprovalResponse created;
  {
    auto ctx = broker.Context("agent-1");
    grpc::Status s = broker.stub().RequestApproval(ctx.get(), req, &created);
    INFO(s.error_message());
    REQUIRE(s.ok());
  }
  const std::string id = created.approval().id();
  absl::StrAppend(&seen, created.DebugString());
  // Positive control: the preview shows what was masked and how.
  const std::string& preview = created.approval().parameters_preview_json();
  for (const char* type :
       {"email", "payment_card", "us_ssn", "iban", "aws_access_key",
        "bearer_token", "pem_private_key", "notes"}) {
    INFO(preview);
    CHECK_THAT(preview, Catch::Contains(absl::StrCat("<masked:", type, ":")));
  }
  CHECK_THAT(preview, Catch::Contains(R"("table":"customers")"));
  // The digest still binds the raw parameters the agent keeps.
  CHECK(created.approval().action_digest() ==
        ActionDigest(req.action(), req.resource(),
                     *CanonicalizeJsonObject(req.parameters_json())));

  // Refusals log their reasons; reviews and the decision go on the record.
  v1::DecideRequest decide;
  decide.set_approval_id(id);
  decide.set_verdict(v1::APPROVE);
  decide.set_comment("ok");
  for (const char* who : {"agent-1", "mallory", "alice", "alice", "bob"}) {
    v1::DecideResponse resp;
    auto ctx = broker.Context(who);
    grpc::Status s = broker.stub().Decide(ctx.get(), decide, &resp);
    absl::StrAppend(&seen, s.error_message(), resp.DebugString());
  }
  {
    v1::Approval got;
    v1::GetApprovalRequest get;
    get.set_approval_id(id);
    auto ctx = broker.Context("bob");
    REQUIRE(broker.stub().GetApproval(ctx.get(), get, &got).ok());
    CHECK(got.state() == v1::APPROVED);
    absl::StrAppend(&seen, got.DebugString());
    v1::ListApprovalsResponse list;
    auto list_ctx = broker.Context("bob");
    REQUIRE(
        broker.stub()
            .ListApprovals(list_ctx.get(), v1::ListApprovalsRequest(), &list)
            .ok());
    absl::StrAppend(&seen, list.DebugString());
    v1::ListAuditEventsResponse audit;
    auto audit_ctx = broker.Context("auditor");
    REQUIRE(broker.stub()
                .ListAuditEvents(audit_ctx.get(), v1::ListAuditEventsRequest(),
                                 &audit)
                .ok());
    CHECK(audit.events_size() >= 6);
    absl::StrAppend(&seen, audit.DebugString());
  }

  // The watcher got the creation, alice's and bob's reviews and the
  // approval; the agent's own stream replays the outcome.
  v1::DecisionEvent event;
  std::string streamed;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(ReadEvent(*watcher, &event));
    absl::StrAppend(&streamed, event.SerializeAsString(), event.DebugString());
  }
  CHECK(event.type() == v1::EVENT_APPROVED);
  watch_ctx->TryCancel();
  (void)watcher->Finish();
  {
    auto ctx = broker.Context("agent-1");
    v1::StreamDecisionsRequest follow;
    follow.add_approval_ids(id);
    auto reader = broker.stub().StreamDecisions(ctx.get(), follow);
    while (reader->Read(&event)) {
      absl::StrAppend(&streamed, event.SerializeAsString(),
                      event.DebugString());
    }
    CHECK(reader->Finish().ok());
  }
  broker.Stop();

  const std::string tables = DumpAllTables(db);
  // Positive controls: the dump and the log hold this approval.
  CHECK_THAT(tables, Catch::Contains(id));
  CHECK_THAT(tables, Catch::Contains("<masked:email:"));
  const std::string log = broker.Log();
  CHECK_THAT(log, Catch::Contains("not_in_reviewer_groups"));
  CHECK_THAT(streamed, Catch::Contains(id));

  CheckNoSecretIn("the database", tables);
  CheckNoSecretIn("a stream event", streamed);
  CheckNoSecretIn("an API response", seen);
  CheckNoSecretIn("the broker log", log);
}

TEST_CASE(
    "SIGHUP reloads the policy, and a bad file keeps the old one and says "
    "why",
    "[policy][postgres][process]") {
  TestDatabase db;
  TempDir dir;
  const std::string policy = dir.Write("policy.json", PolicyWith("export-v1"));
  BrokerProcess broker(db, dir, policy);
  std::vector<std::string> ids;  // of the requests made, in order
  auto rule_of_new_request = [&] {
    v1::RequestApprovalResponse resp;
    auto ctx = broker.Context("agent-1");
    grpc::Status s =
        broker.stub().RequestApproval(ctx.get(), ExportRequest(), &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
    ids.push_back(resp.approval().id());
    return resp.approval().requirement().rule();
  };
  CHECK(rule_of_new_request() == "export-v1");

  // A stream open across both reloads.
  auto watch_ctx = broker.Context("alice");
  auto watcher = broker.stub().StreamDecisions(watch_ctx.get(),
                                               v1::StreamDecisionsRequest());
  REQUIRE(broker.AwaitMetric("approval_decision_streams_open 1"));

  nlohmann::json bad = nlohmann::json::parse(PolicyWith("export-v2"));
  bad["rules"][0]["approvals_required"] = 3;  // only 2 in data-team
  dir.Write("policy.json", bad.dump());
  broker.Signal(SIGHUP);
  REQUIRE(broker.AwaitMetric(
      R"(approval_reloads_total{result="error",what="policy"} 1)"));
  const std::string log = broker.Log();
  CHECK_THAT(log, Catch::Contains("policy reload failed") &&
                      Catch::Contains("previous policy stays in force") &&
                      Catch::Contains("export-v2") &&
                      Catch::Contains("approvals_required"));
  CHECK(rule_of_new_request() == "export-v1");

  dir.Write("policy.json", PolicyWith("export-v2"));
  broker.Signal(SIGHUP);
  REQUIRE(broker.AwaitMetric(
      R"(approval_reloads_total{result="ok",what="policy"} 1)"));
  CHECK(rule_of_new_request() == "export-v2");

  // The stream stayed open across both reloads and saw the requests made
  // after each, under the rule then in force.
  REQUIRE(ids.size() == 3);
  std::map<std::string, std::string> rule_by_id;
  v1::DecisionEvent event;
  while (rule_by_id.count(ids[1]) == 0 || rule_by_id.count(ids[2]) == 0) {
    REQUIRE(ReadEvent(*watcher, &event));
    rule_by_id[event.approval().id()] = event.approval().requirement().rule();
  }
  CHECK(rule_by_id[ids[1]] == "export-v1");
  CHECK(rule_by_id[ids[2]] == "export-v2");
  watch_ctx->TryCancel();
  (void)watcher->Finish();
}

}  // namespace
}  // namespace approval::testing
