// Schema migrations for the PostgreSQL store.
//
// Migrations are the files migrations/NNNN_name.sql, embedded into the binary
// at build time (forward-only, applied in version order, each in its own
// transaction). schema_migrations records which ones a database has.
// Functions connect to `url` themselves (a libpq URL or key=value string; a
// connect_timeout of 3 s is added when it has none) and are thread-safe.
#ifndef APPROVAL_SERVER_STORE_POSTGRES_MIGRATOR_H_
#define APPROVAL_SERVER_STORE_POSTGRES_MIGRATOR_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace approval {

struct Migration {
  int version;       // NNNN of the file name: 1, 2, 3, ...
  std::string name;  // the rest of the file name, without ".sql"
  std::string sql;   // the file's contents
};

// Every embedded migration, ascending by version. Never empty.
const std::vector<Migration>& EmbeddedMigrations();

// The schema version this broker's store needs: the newest embedded one.
inline constexpr int kRequiredSchemaVersion = 7;

// Brings the database at `url` up to the newest embedded migration, logging
// one "applied NNNN_name" line per migration to `log`. Re-running applies
// nothing. Concurrent migrators serialize on an advisory lock. Must run as the
// database owner or a superuser (the first migration creates the role
// approval_broker_app).
// OK once every migration is applied; UNAVAILABLE if the database cannot be
// reached (or the connection failed while committing, leaving that
// migration's outcome unknown); INTERNAL naming the migration and SQLSTATE if
// one fails, which leaves the database at the previous version. A database
// already newer than this broker is left alone (logged, OK).
absl::Status Migrate(const std::string& url, std::ostream& log);

// The highest applied version; 0 when schema_migrations does not exist.
// UNAVAILABLE if the database cannot be reached.
absl::StatusOr<int> SchemaVersion(const std::string& url);

// OK when the database is at kRequiredSchemaVersion. FAILED_PRECONDITION when
// it is older (telling the operator to run `approval-broker migrate`) or newer
// (this broker is older than the database). UNAVAILABLE if unreachable.
absl::Status CheckSchema(const std::string& url);

}  // namespace approval

#endif  // APPROVAL_SERVER_STORE_POSTGRES_MIGRATOR_H_
