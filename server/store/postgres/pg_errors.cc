#include "server/store/postgres/pg_errors.h"

#include <exception>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "pqxx/except"
#include "server/store/error_detail.h"

namespace approval::pg_internal {
namespace {

// libpq messages end with a newline and sometimes carry a DETAIL line.
std::string Clean(absl::string_view what) {
  std::string s(absl::StripAsciiWhitespace(what));
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

// The status callers see: `message` only. The database's own text (which can
// name the host and port, SQL or a value) goes into the detail payload.
absl::Status Failure(absl::StatusCode code, absl::string_view context,
                     absl::string_view message, absl::string_view what) {
  return WithDatabaseDetail(
      absl::Status(code, absl::StrCat(context, ": ", message)), Clean(what));
}

PgFailure Unavailable(absl::string_view context, absl::string_view what,
                      bool connection_lost) {
  PgFailure f;
  f.status = Failure(absl::StatusCode::kUnavailable, context,
                     "database unavailable", what);
  f.connection_lost = connection_lost;
  f.safe_to_retry = true;
  return f;
}

PgFailure OutcomeUnknown(absl::string_view context, absl::string_view what) {
  PgFailure f;
  f.status = Failure(absl::StatusCode::kUnavailable, context,
                     "the connection failed while committing, so the outcome "
                     "is unknown (the change may or may not have been "
                     "applied)",
                     what);
  f.connection_lost = true;
  return f;
}

PgFailure Conflict(absl::string_view context, absl::string_view what) {
  PgFailure f;
  f.status = Failure(absl::StatusCode::kAborted, context,
                     "transaction conflicted with a concurrent one", what);
  f.conflict = true;
  f.safe_to_retry = true;
  return f;
}

PgFailure FromSqlState(absl::string_view context, const std::string& state,
                       absl::string_view what) {
  if (state == "40001" || state == "40P01") return Conflict(context, what);
  if (state == "40003") return OutcomeUnknown(context, what);
  if (state == "57014") {
    PgFailure f = Unavailable(context, what, /*connection_lost=*/false);
    f.status = Failure(absl::StatusCode::kUnavailable, context,
                       "statement timed out or was cancelled", what);
    return f;
  }
  // Connection exceptions, and the server shutting down or restarting.
  if (absl::StartsWith(state, "08") || state == "57P01" || state == "57P02" ||
      state == "57P03") {
    return Unavailable(context, what, /*connection_lost=*/true);
  }
  PgFailure f;
  f.status = Failure(absl::StatusCode::kInternal, context,
                     absl::StrCat("database error (SQLSTATE ",
                                  state.empty() ? "unknown" : state, ")"),
                     what);
  // The transaction failed on the server; running it again would fail the
  // same way, so there is nothing to gain from a retry.
  return f;
}

// Must run inside a catch block.
PgFailure Classify(absl::string_view context) {
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    return OutcomeUnknown(context, e.what());
  } catch (const pqxx::statement_completion_unknown& e) {
    return OutcomeUnknown(context, e.what());
  } catch (const pqxx::broken_connection& e) {
    return Unavailable(context, e.what(), /*connection_lost=*/true);
  } catch (const pqxx::transaction_rollback& e) {
    // serialization_failure (40001), deadlock_detected (40P01) and the rest
    // of class 40: the server rolled the transaction back.
    return Conflict(context, e.what());
  } catch (const pqxx::insufficient_privilege& e) {
    // libpqxx 6 throws this one without its SQLSTATE.
    return FromSqlState(context, "42501", e.what());
  } catch (const pqxx::sql_error& e) {
    return FromSqlState(context, e.sqlstate(), e.what());
  } catch (const std::exception& e) {
    PgFailure f;
    f.status = Failure(absl::StatusCode::kInternal, context,
                       "database layer error", e.what());
    return f;
  } catch (...) {
    PgFailure f;
    f.status = absl::InternalError(
        absl::StrCat(context, ": unknown exception from the database layer"));
    return f;
  }
}

}  // namespace

PgFailure ClassifyCurrentException(absl::string_view context,
                                   bool commit_started) {
  PgFailure f = Classify(context);
  if (commit_started && f.connection_lost && f.safe_to_retry) {
    // libpqxx reports a connection lost during COMMIT as in_doubt_error; this
    // covers any path where it does not.
    return OutcomeUnknown(context, DatabaseDetail(f.status));
  }
  return f;
}

}  // namespace approval::pg_internal
