// The store survives the database going away and coming back. Stops the
// shared test cluster, so CTest runs these alone ([outage] -> RUN_SERIAL).
#include <catch2/catch.hpp>
#include <string>

#include "absl/time/clock.h"
#include "pqxx/pqxx"
#include "server/store/error_detail.h"
#include "server/store/postgres/postgres_store.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/store/store_requests.h"

namespace approval::testing {
namespace {

TEST_CASE("The store reports UNAVAILABLE during an outage and recovers",
          "[postgres][outage]") {
  PgServerControl control;
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  absl::StatusOr<CreateResult> before =
      store->Create(MakeRequest("agent-1", "", "before"));
  REQUIRE(before.ok());
  int db_port = 0;
  {
    pqxx::connection c(db.app_url());
    db_port = std::stoi(c.port());
  }

  RestartOnExit server(control);
  server.Stop();
  absl::Status ping = store->Ping();
  CHECK(ping.code() == absl::StatusCode::kUnavailable);
  absl::StatusOr<CreateResult> during =
      store->Create(MakeRequest("agent-1", "", "during"));
  CHECK(during.status().code() == absl::StatusCode::kUnavailable);
  CHECK(store->Get(before->approval.id).status().code() ==
        absl::StatusCode::kUnavailable);
  CHECK(store->Decide(Decision(before->approval.id, "alice")).status().code() ==
        absl::StatusCode::kUnavailable);
  CHECK(store->Ping().code() == absl::StatusCode::kUnavailable);
  // Statuses name neither host nor port; the detail keeps libpq's words
  // for the broker's log.
  for (const absl::Status& down :
       {ping, during.status(), store->Get(before->approval.id).status()}) {
    INFO(down.ToString());
    CHECK_THAT(std::string(down.message()), !Catch::Contains("127.0.0.1"));
    CHECK_THAT(std::string(down.message()),
               !Catch::Contains(std::to_string(db_port)));
    CHECK_FALSE(DatabaseDetail(down).empty());
  }

  server.Start();
  // The same store object reconnects by itself; the bound only keeps a
  // broken store from hanging the suite.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  absl::Status recovered = store->Ping();
  while (!recovered.ok() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(100));
    recovered = store->Ping();
  }
  INFO(recovered.ToString());
  REQUIRE(recovered.ok());

  absl::StatusOr<CreateResult> after =
      store->Create(MakeRequest("agent-1", "", "after"));
  REQUIRE(after.ok());
  CHECK(store->Get(before->approval.id).ok());
  CHECK(store->Decide(Decision(before->approval.id, "alice")).ok());
  // Nothing from the outage made it in, and the chain is intact.
  // created twice, reviewed, approved.
  CHECK(VerifyAuditChain(*store, testing::TestKeyring()).value() == 4);
}

TEST_CASE("Stale pooled connections are replaced without failing a call",
          "[postgres][outage]") {
  PgServerControl control;
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  REQUIRE(store->Ping().ok());

  RestartOnExit server(control);
  server.Stop();
  server.Start();
  // Every pooled connection died with the old server; the first call after
  // the restart notices, drops them and retries on a fresh connection, so
  // the caller never sees the stale ones.
  absl::StatusOr<CreateResult> created = store->Create(MakeRequest("agent-1"));
  INFO(created.status().ToString());
  REQUIRE(created.ok());
  CHECK(VerifyAuditChain(*store, testing::TestKeyring()).value() == 1);
}

}  // namespace
}  // namespace approval::testing
