// Test support for code that needs a real PostgreSQL: a private database per
// test, and control over the test cluster's server to simulate outages.
//
// Needs APPROVAL_BROKER_TEST_DATABASE_URL, a superuser URL to a throw-away
// cluster (scripts/test.sh starts one and sets it). Without it every fixture
// throws std::runtime_error, failing the test: database tests never skip.
#ifndef APPROVAL_TESTS_SUPPORT_PG_PG_FIXTURE_H_
#define APPROVAL_TESTS_SUPPORT_PG_PG_FIXTURE_H_

#include <memory>
#include <string>

#include "server/store/postgres/postgres_store.h"

namespace approval::testing {

// The login role tests use as the broker's runtime role (IN ROLE
// approval_broker_app, no password: the test cluster trusts 127.0.0.1).
inline constexpr char kTestAppRole[] = "abt_app";

// The superuser URL from APPROVAL_BROKER_TEST_DATABASE_URL. Throws
// std::runtime_error, saying to run scripts/test.sh, when it is unset.
std::string TestClusterUrl();

// A fresh database abt_<random hex> on the test cluster, dropped (WITH
// (FORCE)) when this object goes away. Not thread-safe; tests running in
// parallel processes each make their own.
class TestDatabase final {
 public:
  enum class Schema {
    kMigrated,  // Migrate() has run and the role kTestAppRole exists
    kEmpty,     // nothing: for migrator tests
  };

  // Throws std::runtime_error if the database cannot be created or migrated.
  explicit TestDatabase(Schema schema = Schema::kMigrated);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& name() const { return name_; }
  // Superuser connection to this database.
  const std::string& admin_url() const { return admin_url_; }
  // Connection as kTestAppRole, the broker's runtime role.
  const std::string& app_url() const { return app_url_; }

  // Store options on app_url() with short timeouts suited to tests.
  PostgresOptions AppOptions() const;
  // PostgresStore::Open(AppOptions()); throws std::runtime_error on failure.
  std::unique_ptr<PostgresStore> OpenAppStore() const;

  // Runs `sql` as the superuser the way an attacker with the owner's rights
  // would have to: with audit_events' append-only triggers disabled, then
  // enabled again (ALWAYS), in one transaction. Throws on failure.
  void TamperWithAuditLog(const std::string& sql) const;

 private:
  void Drop() noexcept;

  std::string cluster_url_;
  std::string name_;
  std::string admin_url_;
  std::string app_url_;
};

// Stops and starts the test cluster's server by running the command in
// APPROVAL_BROKER_TEST_PGCTL with argument stop or start (scripts/pg.sh);
// each blocks until done. Construction throws std::runtime_error when the
// variable is unset; Stop/Start throw when the command fails.
class PgServerControl final {
 public:
  PgServerControl();
  void Stop();
  void Start();

 private:
  void Run(const std::string& verb);
  std::string command_;
};

// Stops the server through `control` and starts it again however the test
// ends (an assertion included), so the tests after it find it running.
class RestartOnExit final {
 public:
  explicit RestartOnExit(PgServerControl& control) : control_(control) {}
  ~RestartOnExit() {
    if (stopped_) control_.Start();
  }
  RestartOnExit(const RestartOnExit&) = delete;
  RestartOnExit& operator=(const RestartOnExit&) = delete;

  void Stop() {
    control_.Stop();
    stopped_ = true;
  }
  void Start() {
    control_.Start();
    stopped_ = false;
  }

 private:
  PgServerControl& control_;
  bool stopped_ = false;
};

// Runs `sql` on a new connection to `url` in one transaction and returns the
// first column of the first row as text ("" without rows). Throws what
// libpqxx throws.
std::string ExecSql(const std::string& url, const std::string& sql);

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_PG_PG_FIXTURE_H_
