#include "tests/support/pg/pg_fixture.h"

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "pqxx/connection"
#include "pqxx/except"
#include "pqxx/nontransaction"
#include "pqxx/transaction"
#include "server/domain/validation.h"
#include "server/store/postgres/conninfo.h"
#include "server/store/postgres/migrator.h"
#include "tests/support/keys/test_keys.h"

namespace approval::testing {
namespace {

// Serialises role setup across test processes. Advisory locks are per
// database, so it is taken on the cluster URL's database, which they share.
constexpr int64_t kRoleLockKey = 0x6162745f726f6c65;  // "abt_role"

std::string RequireEnv(const char* name, const char* what) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(absl::StrCat(
        name, " is not set: ", what,
        ". Run the database tests through scripts/test.sh, which starts a "
        "private PostgreSQL cluster and sets it."));
  }
  return value;
}

// Makes sure kTestAppRole exists, may log in and is IN ROLE
// approval_broker_app. Test processes race here: the lock orders them, and
// losing a race anyway (duplicate_object, unique_violation) is fine.
void EnsureAppRole(const std::string& cluster_url) {
  for (int attempt = 1;; ++attempt) {
    try {
      pqxx::connection conn(cluster_url);
      pqxx::work tx(conn);
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kRoleLockKey);
      const bool exists =
          tx.exec_params1(
                "SELECT count(*) > 0 FROM pg_roles WHERE rolname = $1",
                kTestAppRole)[0]
              .as<bool>();
      if (!exists) {
        tx.exec0(absl::StrCat("CREATE ROLE ", kTestAppRole,
                              " LOGIN IN ROLE approval_broker_app"));
      } else if (!tx.exec_params1("SELECT pg_has_role($1, "
                                  "'approval_broker_app', 'MEMBER')",
                                  kTestAppRole)[0]
                      .as<bool>()) {
        tx.exec0(absl::StrCat("GRANT approval_broker_app TO ", kTestAppRole));
      }
      tx.commit();
      return;
    } catch (const pqxx::sql_error& e) {
      const bool lost_race = e.sqlstate() == "42710" || e.sqlstate() == "23505";
      if (!lost_race || attempt >= 5) {
        throw std::runtime_error(
            absl::StrCat("creating role ", kTestAppRole, ": ", e.what()));
      }
    }
  }
}

}  // namespace

std::string TestClusterUrl() {
  return RequireEnv("APPROVAL_BROKER_TEST_DATABASE_URL",
                    "it must hold a superuser URL to a throw-away PostgreSQL "
                    "cluster");
}

TestDatabase::TestDatabase(Schema schema) : cluster_url_(TestClusterUrl()) {
  name_ = absl::StrCat("abt_", absl::StrReplaceAll(NewUuid(), {{"-", ""}}));
  admin_url_ = WithConninfoParam(cluster_url_, "dbname", name_);
  app_url_ = WithConninfoParam(admin_url_, "user", kTestAppRole);
  try {
    pqxx::connection conn(cluster_url_);
    pqxx::nontransaction tx(conn);
    tx.exec0(absl::StrCat("CREATE DATABASE ", name_));
  } catch (const std::exception& e) {
    throw std::runtime_error(absl::StrCat("creating test database ", name_,
                                          " on ", cluster_url_, ": ",
                                          e.what()));
  }
  if (schema == Schema::kEmpty) return;
  try {
    std::ostringstream log;
    if (absl::Status s = Migrate(admin_url_, log); !s.ok()) {
      throw std::runtime_error(
          absl::StrCat("migrating test database ", name_, ": ", s.ToString()));
    }
    EnsureAppRole(cluster_url_);
  } catch (...) {
    // No destructor runs for a half-built object: drop the database here.
    Drop();
    throw;
  }
}

TestDatabase::~TestDatabase() { Drop(); }

void TestDatabase::Drop() noexcept {
  try {
    pqxx::connection conn(cluster_url_);
    pqxx::nontransaction tx(conn);
    tx.exec0(absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
  } catch (const std::exception& e) {
    // A destructor must not throw; an outage test may also have left the
    // server down. The database is a throw-away one on a throw-away cluster.
    std::cerr << "warning: could not drop test database " << name_ << ": "
              << e.what() << "\n";
  }
}

PostgresOptions TestDatabase::AppOptions() const {
  PostgresOptions options;
  options.url = app_url_;
  options.pool_size = 8;
  options.statement_timeout = absl::Seconds(10);
  options.connect_timeout = absl::Seconds(2);
  options.audit_signer = TestSigner();
  return options;
}

std::unique_ptr<PostgresStore> TestDatabase::OpenAppStore() const {
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(AppOptions());
  if (!store.ok()) {
    throw std::runtime_error(absl::StrCat("opening PostgresStore on ", app_url_,
                                          ": ", store.status().ToString()));
  }
  return *std::move(store);
}

PgServerControl::PgServerControl()
    : command_(RequireEnv("APPROVAL_BROKER_TEST_PGCTL",
                          "it must name a command that takes stop|start "
                          "(scripts/pg.sh)")) {}

void PgServerControl::Stop() { Run("stop"); }
void PgServerControl::Start() { Run("start"); }

void PgServerControl::Run(const std::string& verb) {
  const std::string command = absl::StrCat(command_, " ", verb);
  const int rc = std::system(command.c_str());
  if (rc != 0) {
    throw std::runtime_error(
        absl::StrCat("`", command, "` failed (status ", rc, ")"));
  }
}

void TestDatabase::TamperWithAuditLog(const std::string& sql) const {
  pqxx::connection conn(admin_url_);
  pqxx::work tx(conn);
  tx.exec0("ALTER TABLE audit_events DISABLE TRIGGER USER");
  tx.exec0(sql);
  for (const char* trigger :
       {"audit_events_no_update_delete", "audit_events_no_truncate"}) {
    tx.exec0(absl::StrCat("ALTER TABLE audit_events ENABLE ALWAYS TRIGGER ",
                          trigger));
  }
  tx.commit();
}

std::string ExecSql(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  pqxx::result r = tx.exec(sql);
  tx.commit();
  if (r.empty() || r.columns() == 0 || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

}  // namespace approval::testing
