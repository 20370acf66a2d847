// The gRPC service over PostgresStore: the shared scenarios, plus the
// concurrency and audit guarantees that only the real database can show.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "pqxx/pqxx"
#include "server/store/postgres/postgres_signal.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/broker/scenarios.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {
namespace {

TEST_CASE("service scenarios over PostgreSQL", "[service][postgres]") {
  for (const Scenario& s : ServiceScenarios()) {
    DYNAMIC_SECTION(s.name) {
      TestDatabase db;
      std::unique_ptr<PostgresStore> store = db.OpenAppStore();
      BrokerHarness h(*store);
      s.run(h, *store);
    }
  }
}

TEST_CASE("32 reviewers deciding one approval at once: exactly one wins",
          "[service][postgres]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Config config = HarnessConfig();
  config.database_pool_size = 8;
  BrokerHarness h(*store, config);
  v1::RequestApprovalResponse created;
  REQUIRE(h.Request("agent-1", ExportRequest(), &created).ok());
  const std::string id = created.approval().id();

  constexpr int kReviewers = 32;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<grpc::Status> results(kReviewers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReviewers; ++i) {
    threads.emplace_back([&, i] {
      v1::DecideRequest req;
      req.set_approval_id(id);
      req.set_verdict(i % 2 == 0 ? v1::APPROVE : v1::DENY);
      auto stub = h.Stub();
      auto ctx = h.Context(absl::StrCat("reviewer-", i));
      ++ready;
      while (!go.load()) std::this_thread::yield();
      v1::DecideResponse resp;
      results[i] = stub->Decide(ctx.get(), req, &resp);
    });
  }
  while (ready.load() < kReviewers) std::this_thread::yield();
  go = true;
  for (std::thread& t : threads) t.join();

  int winners = 0;
  for (const grpc::Status& s : results) {
    if (s.ok()) {
      ++winners;
      continue;
    }
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    bool names_state =
        s.error_message().find("APPROVED") != std::string::npos ||
        s.error_message().find("DENIED") != std::string::npos;
    CHECK(names_state);
  }
  CHECK(winners == 1);

  pqxx::connection conn(db.admin_url());
  pqxx::work tx(conn);
  pqxx::row decisions = tx.exec1(
      "SELECT count(*) FROM audit_events WHERE approval_id = " + tx.quote(id) +
      " AND type IN ('approved', 'denied')");
  CHECK(decisions[0].as<int>() == 1);
  CHECK(VerifyAuditChain(*store, testing::TestKeyring()).ok());
}

TEST_CASE("concurrent requests from many agents keep one linear audit chain",
          "[service][postgres]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness h(*store);
  constexpr int kThreads = 8, kEach = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        v1::RequestApprovalResponse resp;
        if (!h.Request(t % 2 ? "agent-1" : "agent-2",
                       ExportRequest(absl::StrCat("t", t, "_", i)), &resp)
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(failures == 0);
  absl::StatusOr<int64_t> verified =
      VerifyAuditChain(*store, testing::TestKeyring());
  REQUIRE(verified.ok());
  CHECK(*verified == kThreads * kEach);
}

}  // namespace
}  // namespace approval::testing

namespace approval::testing {
namespace {

TEST_CASE("two brokers on one database share one chain and one event stream",
          "[service][postgres]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store_a = db.OpenAppStore();
  std::unique_ptr<PostgresStore> store_b = db.OpenAppStore();
  BrokerHarness a(*store_a);
  BrokerHarness b(*store_b);

  // An agent waits on broker A; the approval is requested and decided on B.
  v1::RequestApprovalResponse created;
  REQUIRE(b.Request("agent-1", ExportRequest(), &created).ok());
  const std::string id = created.approval().id();
  auto ctx = a.Context("agent-1");
  v1::StreamDecisionsRequest follow;
  follow.add_approval_ids(id);
  auto stream = a.Stub()->StreamDecisions(ctx.get(), follow);
  stream->WaitForInitialMetadata();

  // Both brokers write concurrently.
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (BrokerHarness* h : {&a, &b}) {
    writers.emplace_back([h, &failures] {
      for (int i = 0; i < 10; ++i) {
        v1::RequestApprovalResponse resp;
        if (!h->Request("agent-2", ExportRequest(absl::StrCat("t", i)), &resp)
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  v1::DecideResponse decided;
  REQUIRE(b.Decide("alice", id, v1::APPROVE, &decided).ok());
  for (std::thread& t : writers) t.join();
  CHECK(failures == 0);

  // Broker A learns of B's commit through its own poll of the database (no
  // notification crosses processes yet), within the context deadline.
  v1::DecisionEvent event;
  REQUIRE(stream->Read(&event));
  CHECK(event.type() == v1::EVENT_APPROVED);
  CHECK(event.approval().id() == id);
  CHECK(event.actor() == "alice");

  absl::StatusOr<int64_t> verified =
      VerifyAuditChain(*store_a, testing::TestKeyring());
  REQUIRE(verified.ok());
  CHECK(*verified == 1 + 20 + 2);  // + the review and the approval
}

}  // namespace
}  // namespace approval::testing

namespace approval::testing {
namespace {

TEST_CASE("LISTEN/NOTIFY wakes another broker without waiting for its poll",
          "[service][postgres]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store_a = db.OpenAppStore();
  std::unique_ptr<PostgresStore> store_b = db.OpenAppStore();
  PostgresSignal signal_a(db.app_url());
  PostgresSignal signal_b(db.app_url());
  // Polls so rare that only the signal can deliver within the test's bound.
  Config config = HarnessConfig();
  config.event_poll_interval = absl::Hours(1);
  BrokerHarness a(*store_a, config, &signal_a);
  BrokerHarness b(*store_b, config, &signal_b);

  v1::RequestApprovalResponse created;
  REQUIRE(b.Request("agent-1", ExportRequest(), &created).ok());
  auto ctx = a.Context("agent-1");  // 30 s deadline
  v1::StreamDecisionsRequest follow;
  follow.add_approval_ids(created.approval().id());
  auto stream = a.Stub()->StreamDecisions(ctx.get(), follow);
  stream->WaitForInitialMetadata();

  v1::DecideResponse decided;
  REQUIRE(
      b.Decide("alice", created.approval().id(), v1::APPROVE, &decided).ok());
  v1::DecisionEvent event;
  REQUIRE(stream->Read(&event));
  CHECK(event.type() == v1::EVENT_APPROVED);
  CHECK(event.approval().id() == created.approval().id());
}

}  // namespace
}  // namespace approval::testing
