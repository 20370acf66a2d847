// Group commit across two broker processes on one database: agents and
// reviewers call both at once; every acknowledged request is committed
// exactly once (an idempotent replay on the other broker returns it), every
// acknowledged decision is on the record, and the audit chain is one
// gap-free, verifiable chain.
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/process/serve_process.h"
#include "tests/support/store/store_requests.h"
#include "wire/sha256.h"

namespace approval::testing {
namespace {

constexpr char kAgentToken[] = "group-commit-agent-token-7d1e0a";
constexpr char kReviewerToken[] = "group-commit-reviewer-token-3c9b44";

std::string WriteConfig(const TestDatabase& db, const TempDir& dir,
                        const std::string& name) {
  const std::string tokens =
      dir.Write(name + "-tokens.json",
                nlohmann::json{{"tokens",
                                {{{"sha256", Sha256Hex(kAgentToken)},
                                  {"identity", "agent-gc"},
                                  {"roles", {"agent"}}},
                                 {{"sha256", Sha256Hex(kReviewerToken)},
                                  {"identity", "alice"},
                                  {"roles", {"reviewer"}}}}}}
                    .dump());
  const nlohmann::json config = {{"database_url", db.app_url()},
                                 {"listen_address", "127.0.0.1:0"},
                                 {"metrics_address", ""},
                                 {"signing_key_file", TestSigningKeyFile()},
                                 {"auth", {{"tokens_file", tokens}}}};
  return dir.Write(name + ".json", config.dump());
}

std::unique_ptr<v1::ApprovalBroker::Stub> StubFor(const ServeProcess& b) {
  return v1::ApprovalBroker::NewStub(
      grpc::CreateChannel(b.address(), grpc::InsecureChannelCredentials()));
}

TEST_CASE(
    "Two brokers writing at once: each acknowledged write once, one "
    "verifiable chain",
    "[group_commit][postgres]") {
  TestDatabase db;
  TempDir dir;
  ServeProcess a(WriteConfig(db, dir, "a"), dir.path() + "/a.log");
  ServeProcess b(WriteConfig(db, dir, "b"), dir.path() + "/b.log");
  a.Start();
  b.Start();
  ServeProcess* brokers[2] = {&a, &b};

  constexpr int kAgents = 8, kEach = 8;
  absl::Mutex mu;
  std::map<std::string, int> created;  // approval id -> acknowledged creates
  std::vector<std::string> problems;   // Catch2 asserts on one thread
  std::vector<std::thread> agents;
  for (int t = 0; t < kAgents; ++t) {
    agents.emplace_back([&, t] {
      auto first = StubFor(*brokers[t % 2]);
      auto other = StubFor(*brokers[(t + 1) % 2]);
      for (int i = 0; i < kEach; ++i) {
        const v1::RequestApprovalRequest req = ExportRequest(
            absl::StrCat("t", t, "_", i), absl::StrCat("key-", t, "-", i));
        v1::RequestApprovalResponse made, replayed;
        grpc::ClientContext c1, c2, c3;
        for (grpc::ClientContext* c : {&c1, &c2}) {
          c->AddMetadata("authorization", absl::StrCat("Bearer ", kAgentToken));
        }
        c3.AddMetadata("authorization",
                       absl::StrCat("Bearer ", kReviewerToken));
        const grpc::Status s1 = first->RequestApproval(&c1, req, &made);
        const grpc::Status s2 = other->RequestApproval(&c2, req, &replayed);
        v1::DecideRequest decide;
        decide.set_approval_id(made.approval().id());
        decide.set_verdict(v1::APPROVE);
        v1::DecideResponse decided;
        const grpc::Status s3 = other->Decide(&c3, decide, &decided);
        absl::MutexLock lock(&mu);
        if (!s1.ok() || !s2.ok() || !s3.ok()) {
          problems.push_back(absl::StrCat(s1.error_message(), " / ",
                                          s2.error_message(), " / ",
                                          s3.error_message()));
          continue;
        }
        if (replayed.created() ||
            replayed.approval().id() != made.approval().id()) {
          problems.push_back("the replay on the other broker created anew");
        }
        if (decided.approval().state() != v1::APPROVED) {
          problems.push_back("an acknowledged decision did not approve");
        }
        created[made.approval().id()] += made.created() ? 1 : 0;
      }
    });
  }
  for (std::thread& t : agents) t.join();
  for (const std::string& p : problems) UNSCOPED_INFO(p);
  CHECK(problems.empty());

  REQUIRE(created.size() == static_cast<size_t>(kAgents * kEach));
  for (const auto& [id, creates] : created) CHECK(creates == 1);
  CHECK(ExecSql(db.admin_url(), "SELECT count(*) FROM approvals") ==
        std::to_string(kAgents * kEach));
  CHECK(ExecSql(db.admin_url(),
                "SELECT count(*) FROM approvals WHERE state = 'approved'") ==
        std::to_string(kAgents * kEach));
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  const std::vector<AuditEvent> events = AllAuditEvents(*store);
  // created, reviewed, approved for each.
  REQUIRE(events.size() == static_cast<size_t>(3 * kAgents * kEach));
  for (size_t i = 0; i < events.size(); ++i) {
    REQUIRE(events[i].seq == static_cast<int64_t>(i) + 1);
  }
  absl::StatusOr<int64_t> verified = VerifyAuditChain(*store, TestKeyring());
  INFO(verified.status().ToString());
  REQUIRE(verified.ok());
  CHECK(*verified == static_cast<int64_t>(events.size()));
  CHECK(a.Stop() == 0);
  CHECK(b.Stop() == 0);
}

}  // namespace
}  // namespace approval::testing
