// The audit log is append-only in the database itself, and tampering that
// gets past that shows up in VerifyAuditChain.
#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pqxx/connection"
#include "pqxx/except"
#include "pqxx/transaction"
#include "server/store/postgres/postgres_store.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/store/store_requests.h"

namespace approval::testing {
namespace {

// A database with a few audit events in it.
void Populate(ApprovalStore& store) {
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<CreateResult> r =
        store.Create(MakeRequest("agent-1", "", absl::StrCat("t", i)));
    REQUIRE(r.ok());
  }
}

// The SQLSTATE `sql` fails with on `url`, or "" if it succeeds.
std::string SqlStateOf(const std::string& url, const std::string& sql) {
  try {
    ExecSql(url, sql);
    return "";
  } catch (const pqxx::insufficient_privilege&) {
    return "42501";  // libpqxx 6 leaves sqlstate() empty for this one
  } catch (const pqxx::sql_error& e) {
    return e.sqlstate().empty() ? "?" : e.sqlstate();
  }
}

constexpr char kInsufficientPrivilege[] = "42501";

TEST_CASE("The app role cannot rewrite the audit log", "[postgres][audit]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Populate(*store);
  const std::string& app = db.app_url();

  CHECK(SqlStateOf(app, "UPDATE audit_events SET actor = 'x' WHERE seq = 1") ==
        kInsufficientPrivilege);
  CHECK(SqlStateOf(app, "DELETE FROM audit_events WHERE seq = 1") ==
        kInsufficientPrivilege);
  CHECK(SqlStateOf(app, "TRUNCATE audit_events") == kInsufficientPrivilege);
  CHECK(SqlStateOf(app,
                   "ALTER TABLE audit_events DISABLE TRIGGER "
                   "audit_events_no_update_delete") == kInsufficientPrivilege);
  CHECK(SqlStateOf(app, "ALTER TABLE audit_events DISABLE TRIGGER ALL") ==
        kInsufficientPrivilege);
  CHECK(SqlStateOf(app, "DROP TABLE audit_events") == kInsufficientPrivilege);
  CHECK(SqlStateOf(app, "DELETE FROM approvals") == kInsufficientPrivilege);
  CHECK(VerifyAuditChain(*store, testing::TestKeyring()).value() == 3);
}

TEST_CASE("Triggers stop even a superuser from rewriting the audit log",
          "[postgres][audit]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Populate(*store);
  const std::string& admin = db.admin_url();
  const std::string replica = "SET LOCAL session_replication_role = replica; ";
  for (const std::string& prefix : {std::string(), replica}) {
    INFO(prefix);
    for (const std::string& sql :
         {std::string("UPDATE audit_events SET actor = 'x' WHERE seq = 1"),
          std::string("DELETE FROM audit_events WHERE seq = 1"),
          std::string("TRUNCATE audit_events CASCADE")}) {
      INFO(sql);
      try {
        ExecSql(admin, prefix + sql);
        FAIL("statement succeeded");
      } catch (const pqxx::sql_error& e) {
        CHECK(absl::StrContains(e.what(), "append-only"));
      }
    }
  }
  CHECK(VerifyAuditChain(*store, testing::TestKeyring()).value() == 3);
}

TEST_CASE("VerifyAuditChain names the row a superuser altered",
          "[postgres][audit]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Populate(*store);
  db.TamperWithAuditLog(
      "UPDATE audit_events SET details = "
      "'{\"action\":\"db.export\",\"forged\":true}' WHERE seq = 2");

  absl::StatusOr<int64_t> verified =
      VerifyAuditChain(*store, testing::TestKeyring());
  REQUIRE_FALSE(verified.ok());
  CHECK(verified.status().code() == absl::StatusCode::kDataLoss);
  CHECK(absl::StrContains(verified.status().message(), "audit event 2"));
  // The trigger is back.
  CHECK(SqlStateOf(db.admin_url(), "DELETE FROM audit_events") ==
        kInsufficientPrivilege);
}

TEST_CASE("VerifyAuditChain notices an event inserted out of band",
          "[postgres][audit]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Populate(*store);
  // The app role may INSERT (a sealed-looking row: unsigned ones are refused
  // by a constraint): a forged row with a made-up hash and a copied seal
  // breaks the chain at that row.
  ExecSql(db.app_url(),
          "INSERT INTO audit_events SELECT 4, approval_id, 'cancelled', "
          "'mallory', now(), '{}', hash, hash, key_id, signature "
          "FROM audit_events WHERE seq = 3");
  absl::StatusOr<int64_t> verified =
      VerifyAuditChain(*store, testing::TestKeyring());
  REQUIRE_FALSE(verified.ok());
  CHECK(verified.status().code() == absl::StatusCode::kDataLoss);
  CHECK(absl::StrContains(verified.status().message(), "audit event 4"));
}

TEST_CASE("VerifyAuditChain notices events cut off the end",
          "[postgres][audit]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Populate(*store);
  db.TamperWithAuditLog("DELETE FROM audit_events WHERE seq = 3");
  absl::StatusOr<int64_t> verified =
      VerifyAuditChain(*store, testing::TestKeyring());
  REQUIRE_FALSE(verified.ok());
  CHECK(verified.status().code() == absl::StatusCode::kDataLoss);
  CHECK(absl::StrContains(verified.status().message(), "audit event 3"));
}

}  // namespace
}  // namespace approval::testing
