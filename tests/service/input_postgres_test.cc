// Hostile input through the gRPC service over PostgresStore: nothing reaches
// SQL that could fail there, and what fails there stays out of messages.
#include <catch2/catch.hpp>

#include "pqxx/pqxx"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/broker/input_scenarios.h"
#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {
namespace {

TEST_CASE("input scenarios over PostgreSQL", "[service][postgres][input]") {
  for (const Scenario& s : InputScenarios()) {
    DYNAMIC_SECTION(s.name) {
      TestDatabase db;
      std::unique_ptr<PostgresStore> store = db.OpenAppStore();
      BrokerHarness h(*store);
      s.run(h, *store);
    }
  }
}

TEST_CASE("a database error reaches the client as code and SQLSTATE only",
          "[service][postgres][input]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness h(*store);
  {
    // A schema the broker does not expect: every List query fails.
    pqxx::connection admin(db.admin_url());
    pqxx::nontransaction tx(admin);
    tx.exec("ALTER TABLE approvals RENAME COLUMN justification TO why");
  }
  v1::ListApprovalsResponse page;
  grpc::Status s = h.Stub()->ListApprovals(h.Context("alice").get(), {}, &page);
  INFO(s.error_message());
  CHECK(s.error_code() == grpc::StatusCode::INTERNAL);
  CHECK(s.error_message() == "List: database error (SQLSTATE 42703)");
}

}  // namespace
}  // namespace approval::testing
