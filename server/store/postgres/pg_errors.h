// The one place where libpqxx exceptions become absl::Status.
// Internal to approval_postgres.
#ifndef APPROVAL_SERVER_STORE_POSTGRES_PG_ERRORS_H_
#define APPROVAL_SERVER_STORE_POSTGRES_PG_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace approval::pg_internal {

// What a caught exception means for the caller and for its connection.
struct PgFailure {
  absl::Status status;
  // The connection is gone: discard it rather than return it to the pool.
  bool connection_lost = false;
  // The server rolled the transaction back because of a conflict with a
  // concurrent one (serialization failure, deadlock): redoing it may succeed.
  bool conflict = false;
  // The transaction certainly did not commit, so running it again cannot
  // apply it twice. False when the commit outcome is unknown.
  bool safe_to_retry = false;
};

// Classifies the exception being handled; call only inside a catch block.
// `commit_started`: the exception may have come from COMMIT, so a lost
// connection leaves the outcome unknown.
//   pqxx::broken_connection, SQLSTATE class 08, 57P01-57P03 -> UNAVAILABLE
//   pqxx::in_doubt_error, 40003, or a lost connection once commit_started
//       -> UNAVAILABLE saying the outcome is unknown
//   serialization failure / deadlock (40001, 40P01) -> ABORTED
//   query_canceled (57014: statement_timeout) -> UNAVAILABLE
//   any other pqxx::sql_error -> INTERNAL naming its SQLSTATE
//   anything else -> INTERNAL
// `context` names the operation, e.g. "Decide"; it prefixes the message.
// The message never carries the database's own text (it can name the host
// and port, SQL or values): that is attached as the detail payload
// (error_detail.h) for the broker's log.
PgFailure ClassifyCurrentException(absl::string_view context,
                                   bool commit_started);

}  // namespace approval::pg_internal

#endif  // APPROVAL_SERVER_STORE_POSTGRES_PG_ERRORS_H_
