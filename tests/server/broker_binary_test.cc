// The approval-broker binary itself: migrate, serve's start-up checks, a
// real serve with metrics and graceful shutdown, and audit verify naming a
// tampered row.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>

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

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

Result RunBroker(const std::vector<std::string>& args) {
  std::string cmd = Quote(APPROVAL_BROKER_BINARY);
  for (const std::string& a : args) cmd += " " + Quote(a);
  cmd += " 2>&1";
  Result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) r.output.append(buf, n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST_CASE("migrate applies pending migrations once", "[cli][postgres]") {
  TestDatabase db(TestDatabase::Schema::kEmpty);
  Result first = RunBroker({"migrate", "--database-url", db.admin_url()});
  INFO(first.output);
  CHECK(first.exit_code == 0);
  CHECK_THAT(first.output, Catch::Contains("0001"));
  Result again = RunBroker({"migrate", "--database-url", db.admin_url()});
  INFO(again.output);
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.output, !Catch::Contains("applied 0001"));
}

TEST_CASE("serve refuses an unmigrated database and says to migrate",
          "[cli][postgres]") {
  TestDatabase db(TestDatabase::Schema::kEmpty);
  TempDir dir;
  std::string tokens =
      dir.Write("tokens.json", nlohmann::json{{"tokens",
                                               {{{"sha256", Sha256Hex("t")},
                                                 {"identity", "a"},
                                                 {"roles", {"agent"}}}}}}
                                   .dump());
  Result r = RunBroker(
      {"serve", "--database-url", db.admin_url(), "--listen", "127.0.0.1:0",
       "--metrics-listen", "", "--config",
       dir.Write("c.json",
                 nlohmann::json{{"signing_key_file", TestSigningKeyFile()},
                                {"auth", {{"tokens_file", tokens}}}}
                     .dump())});
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("approval-broker migrate"));
}

TEST_CASE("a bad config value is named with its key", "[cli]") {
  TempDir dir;
  std::string path =
      dir.Write("c.json", R"({"limits": {"max_ttl": "forever"}})");
  Result r = RunBroker({"serve", "--config", path});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("limits.max_ttl"));
  CHECK_THAT(r.output, Catch::Contains("forever"));
}

TEST_CASE(
    "serve on port 0 logs the bound ports, exposes metrics, stops cleanly on "
    "SIGTERM",
    "[cli][postgres]") {
  TestDatabase db;
  TempDir dir;
  const std::string token = "cli-test-agent-token";
  std::string tokens =
      dir.Write("tokens.json", nlohmann::json{{"tokens",
                                               {{{"sha256", Sha256Hex(token)},
                                                 {"identity", "agent-cli"},
                                                 {"roles", {"agent"}}}}}}
                                   .dump());
  std::string config = dir.Write(
      "config.json", nlohmann::json{{"database_url", db.app_url()},
                                    {"listen_address", "127.0.0.1:0"},
                                    {"metrics_address", "127.0.0.1:0"},
                                    {"signing_key_file", TestSigningKeyFile()},
                                    {"auth", {{"tokens_file", tokens}}}}
                         .dump());
  ServeProcess broker(config, dir.path() + "/serve.log");
  broker.Start();
  INFO(broker.Log());
  // The log names the port the OS picked for port 0, not port 0.
  const std::string address = broker.address();
  CHECK(address != "127.0.0.1:0");
  CHECK(broker.metrics_port() != 0);

  auto stub = v1::ApprovalBroker::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token);
  v1::RequestApprovalResponse resp;
  grpc::Status s = stub->RequestApproval(&ctx, ExportRequest(), &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());

  std::string metrics = HttpGet(broker.metrics_port(), "/metrics");
  CHECK_THAT(metrics,
             Catch::Contains("approval_requests_total{outcome=\"created\","
                             "rule=\"default\"} 1"));
  CHECK_THAT(metrics, Catch::Contains("approval_decision_streams_open"));
  CHECK_THAT(metrics, Catch::Contains("approval_rpc_duration_seconds"));

  CHECK(broker.Stop() == 0);
}

// `approval-broker audit verify` against `db`, trusting the test key's public
// half only (verifying needs no private key); `more` adds flags.
Result AuditVerify(const TestDatabase& db, std::vector<std::string> more = {}) {
  TempDir dir;
  std::vector<std::string> args = {
      "audit",
      "verify",
      "--database-url",
      db.app_url(),
      "--trusted-key",
      dir.Write("signing.pub.pem", TestSigner()->public_key_pem())};
  args.insert(args.end(), more.begin(), more.end());
  return RunBroker(args);
}

TEST_CASE("audit verify passes and then names a row a superuser altered",
          "[cli][postgres]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness h(*store);
  for (int i = 0; i < 3; ++i) {
    v1::RequestApprovalResponse resp;
    REQUIRE(
        h.Request("agent-1", ExportRequest(absl::StrCat("t", i)), &resp).ok());
  }
  Result ok = AuditVerify(db);
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.output, Catch::Contains("audit chain OK: 3 events verified"));

  // Only a superuser can get past the triggers, and only by disabling
  // them; the chain still gives it away.
  db.TamperWithAuditLog(
      "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2");
  Result broken = AuditVerify(db);
  INFO(broken.output);
  CHECK(broken.exit_code == 9);
  CHECK_THAT(broken.output, Catch::Contains("audit event 2:"));

  // The admin RPC says the same.
  v1::VerifyAuditLogResponse rpc;
  REQUIRE(h.Stub()->VerifyAuditLog(h.Context("root").get(), {}, &rpc).ok());
  CHECK_FALSE(rpc.verified());
  CHECK_THAT(rpc.problem(), Catch::StartsWith("audit event 2:"));
}

TEST_CASE("audit verify without any key to trust is a usage error",
          "[cli][postgres]") {
  TestDatabase db;
  Result r = RunBroker({"audit", "verify", "--database-url", db.app_url()});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("--trusted-key"));
}

TEST_CASE(
    "audit verify says the database is unreachable, with its own exit "
    "code",
    "[cli]") {
  TempDir dir;
  const std::string public_key =
      dir.Write("signing.pub.pem", TestSigner()->public_key_pem());
  // Nothing listens on port 1.
  Result r =
      RunBroker({"audit", "verify", "--database-url",
                 "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2",
                 "--trusted-key", public_key});
  INFO(r.output);
  CHECK(r.exit_code == 7);
  CHECK_THAT(r.output, Catch::Contains("database unreachable"));
  CHECK_THAT(r.output, !Catch::Contains("BROKEN"));
}

TEST_CASE(
    "audit verify prints a head that later exposes events cut off the "
    "end",
    "[cli][postgres]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness h(*store);
  v1::RequestApprovalResponse first;
  REQUIRE(h.Request("agent-1", ExportRequest("t1"), &first).ok());
  v1::RequestApprovalResponse second;
  REQUIRE(h.Request("agent-1", ExportRequest("t2"), &second).ok());
  Result ok = AuditVerify(db);
  INFO(ok.output);
  REQUIRE(ok.exit_code == 0);
  const size_t at = ok.output.find("head: 2:");
  REQUIRE(at != std::string::npos);
  const std::string head = ok.output.substr(at + 6, 2 + 64);

  pqxx::connection conn(db.admin_url());
  pqxx::work tx(conn);
  const std::string hash_of_1 =
      tx.exec1("SELECT encode(hash, 'hex') FROM audit_events WHERE seq = 1")[0]
          .as<std::string>();
  tx.commit();
  db.TamperWithAuditLog(absl::StrCat(
      "DELETE FROM audit_events WHERE seq = 2; DELETE FROM approvals WHERE id "
      "= '",
      second.approval().id(),
      "'; UPDATE audit_chain_head SET last_seq = 1, last_hash = decode('",
      hash_of_1, "', 'hex');"));
  Result shorter = AuditVerify(db);
  CHECK(shorter.exit_code == 0);  // consistent, only shorter
  Result against = AuditVerify(db, {"--expect-head", head});
  INFO(against.output);
  CHECK(against.exit_code == 9);
  CHECK_THAT(against.output,
             Catch::Contains("audit event 2: missing: the recorded head"));
}

}  // namespace
}  // namespace approval::testing
