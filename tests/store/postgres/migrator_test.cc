// Schema migrations: embedding, applying once, version checks.
#include "server/store/postgres/migrator.h"

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/store/store_requests.h"

namespace approval::testing {
namespace {

TEST_CASE("Embedded migrations are numbered 1..kRequiredSchemaVersion",
          "[postgres][migrate]") {
  const std::vector<Migration>& migrations = EmbeddedMigrations();
  REQUIRE_FALSE(migrations.empty());
  for (size_t i = 0; i < migrations.size(); ++i) {
    CHECK(migrations[i].version == static_cast<int>(i) + 1);
    CHECK_FALSE(migrations[i].sql.empty());
  }
  CHECK(migrations.back().version == kRequiredSchemaVersion);
  CHECK(migrations.front().name == "initial");
  CHECK(absl::StrContains(migrations.front().sql, "CREATE TABLE approvals"));
}

TEST_CASE("Migrate applies each migration once", "[postgres][migrate]") {
  TestDatabase db(TestDatabase::Schema::kEmpty);
  CHECK(SchemaVersion(db.admin_url()).value() == 0);

  std::ostringstream first;
  REQUIRE(Migrate(db.admin_url(), first).ok());
  CHECK(absl::StrContains(first.str(), "applied 0001_initial"));
  CHECK(SchemaVersion(db.admin_url()).value() == kRequiredSchemaVersion);
  CHECK(CheckSchema(db.admin_url()).ok());

  std::ostringstream second;
  REQUIRE(Migrate(db.admin_url(), second).ok());
  CHECK_FALSE(absl::StrContains(second.str(), "applied"));
  CHECK(ExecSql(db.admin_url(), "SELECT count(*) FROM schema_migrations") ==
        absl::StrCat(kRequiredSchemaVersion));
}

TEST_CASE("Concurrent migrators apply each migration once",
          "[postgres][migrate][concurrency]") {
  TestDatabase db(TestDatabase::Schema::kEmpty);
  constexpr int kThreads = 4;
  std::vector<std::ostringstream> logs(kThreads);
  std::vector<absl::Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = Migrate(db.admin_url(), logs[i]); });
  }
  for (std::thread& t : threads) t.join();
  int applied = 0;
  for (int i = 0; i < kThreads; ++i) {
    INFO(results[i].ToString());
    CHECK(results[i].ok());
    if (absl::StrContains(logs[i].str(), "applied 0001_initial")) ++applied;
  }
  CHECK(applied == 1);
  CHECK(CheckSchema(db.admin_url()).ok());
}

TEST_CASE("CheckSchema tells an operator to migrate an old database",
          "[postgres][migrate]") {
  TestDatabase db(TestDatabase::Schema::kEmpty);
  absl::Status s = CheckSchema(db.admin_url());
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(s.message() ==
        absl::StrCat("database schema is at version 0; this broker needs "
                     "version ",
                     kRequiredSchemaVersion,
                     ": run `approval-broker migrate`"));
}

TEST_CASE("CheckSchema refuses a database newer than the broker",
          "[postgres][migrate]") {
  TestDatabase db;
  ExecSql(db.admin_url(),
          absl::StrCat("INSERT INTO schema_migrations (version, name) VALUES (",
                       kRequiredSchemaVersion + 1, ", 'from_the_future')"));
  absl::Status s = CheckSchema(db.admin_url());
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(s.message(), "older than the database"));
  // Migrate leaves a newer database alone.
  std::ostringstream log;
  CHECK(Migrate(db.admin_url(), log).ok());
  CHECK_FALSE(absl::StrContains(log.str(), "applied"));
}

TEST_CASE("The app role can check the schema", "[postgres][migrate]") {
  TestDatabase db;
  CHECK(CheckSchema(db.app_url()).ok());
}

TEST_CASE("Migrator functions report UNAVAILABLE for an unreachable database",
          "[postgres][migrate]") {
  const std::string url = "postgresql://postgres@127.0.0.1:1/postgres";
  std::ostringstream log;
  CHECK(Migrate(url, log).code() == absl::StatusCode::kUnavailable);
  CHECK(SchemaVersion(url).status().code() == absl::StatusCode::kUnavailable);
  CHECK(CheckSchema(url).code() == absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace approval::testing
