#include "server/store/postgres/migrator.h"

#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "pqxx/connection"
#include "pqxx/nontransaction"
#include "pqxx/transaction"
#include "server/store/postgres/conninfo.h"
#include "server/store/postgres/pg_errors.h"

namespace approval {
namespace {

// Arbitrary, fixed: every migrator of every broker version takes this lock.
constexpr int64_t kMigrationLockKey = 0x617070726f76616c;  // "approval"
constexpr int kDefaultConnectTimeoutSeconds = 3;

std::string FileName(const Migration& m) {
  return absl::StrFormat("%04d_%s", m.version, m.name);
}

// Runs `fn` on a new connection to `url`; database exceptions become
// statuses. `commit_started` lets `fn` mark when it starts committing.
absl::Status WithConnection(
    const std::string& url, absl::string_view context,
    const std::function<absl::Status(pqxx::connection&, bool& commit_started)>&
        fn) {
  absl::StatusOr<bool> has_timeout = ConninfoHasParam(url, "connect_timeout");
  if (!has_timeout.ok()) return has_timeout.status();
  const std::string conninfo =
      *has_timeout
          ? url
          : WithConninfoParam(url, "connect_timeout",
                              absl::StrCat(kDefaultConnectTimeoutSeconds));
  bool commit_started = false;
  try {
    pqxx::connection conn(conninfo);
    pqxx::nontransaction(conn).exec("SET client_min_messages = warning");
    return fn(conn, commit_started);
  } catch (...) {
    return pg_internal::ClassifyCurrentException(context, commit_started)
        .status;
  }
}

// Reads the version inside `tx`; 0 without a schema_migrations table.
int ReadVersion(pqxx::transaction_base& tx) {
  pqxx::row exists =
      tx.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0].as<bool>()) return 0;
  return tx.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0]
      .as<int>();
}

}  // namespace

absl::Status Migrate(const std::string& url, std::ostream& log) {
  const std::vector<Migration>& migrations = EmbeddedMigrations();
  return WithConnection(
      url, "migrate",
      [&](pqxx::connection& conn, bool& commit_started) -> absl::Status {
        {
          pqxx::work tx(conn);
          tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
          tx.exec0(
              "CREATE TABLE IF NOT EXISTS schema_migrations ("
              " version integer PRIMARY KEY,"
              " name text NOT NULL,"
              " applied_at timestamptz NOT NULL DEFAULT now())");
          commit_started = true;
          tx.commit();
          commit_started = false;
        }
        int applied = 0;
        for (const Migration& m : migrations) {
          pqxx::work tx(conn);
          // Held until this migration commits: a concurrent migrator waits,
          // then sees it applied.
          tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
          if (tx.exec_params(
                    "SELECT 1 FROM schema_migrations WHERE version = $1",
                    m.version)
                  .size() > 0) {
            continue;
          }
          try {
            tx.exec(m.sql);
          } catch (...) {
            return pg_internal::ClassifyCurrentException(
                       absl::StrCat("migration ", FileName(m)),
                       /*commit_started=*/false)
                .status;
          }
          tx.exec_params0(
              "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
              m.version, m.name);
          commit_started = true;
          tx.commit();
          commit_started = false;
          log << "applied " << FileName(m) << "\n";
          ++applied;
        }
        pqxx::read_transaction tx(conn);
        const int version = ReadVersion(tx);
        if (version > migrations.back().version) {
          log << "database schema is at version " << version
              << ", newer than this broker's " << migrations.back().version
              << "; leaving it as it is\n";
        } else if (applied == 0) {
          log << "database schema is up to date at version " << version << "\n";
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<int> SchemaVersion(const std::string& url) {
  int version = 0;
  absl::Status s =
      WithConnection(url, "schema version",
                     [&](pqxx::connection& conn, bool&) -> absl::Status {
                       pqxx::read_transaction tx(conn);
                       version = ReadVersion(tx);
                       return absl::OkStatus();
                     });
  if (!s.ok()) return s;
  return version;
}

absl::Status CheckSchema(const std::string& url) {
  absl::StatusOr<int> version = SchemaVersion(url);
  if (!version.ok()) return version.status();
  if (*version < kRequiredSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("database schema is at version ", *version,
                     "; this broker needs version ", kRequiredSchemaVersion,
                     ": run `approval-broker migrate`"));
  }
  if (*version > kRequiredSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema is at version ", *version, ", newer than the version ",
        kRequiredSchemaVersion,
        " this broker knows: the broker is older than the database; run a "
        "broker release that supports schema version ",
        *version));
  }
  return absl::OkStatus();
}

}  // namespace approval
