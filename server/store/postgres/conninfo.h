// Helpers for libpq connection strings, in either of their two forms:
// a URL (postgresql://user@host:port/db?key=value) or key=value pairs
// ("host=... dbname=..."). Pure functions; thread-safe.
#ifndef APPROVAL_SERVER_STORE_POSTGRES_CONNINFO_H_
#define APPROVAL_SERVER_STORE_POSTGRES_CONNINFO_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace approval {

// Is `conninfo` in URL form (postgresql:// or postgres://)?
bool IsConninfoUrl(absl::string_view conninfo);

// Whether `conninfo` sets `key` explicitly. INVALID_ARGUMENT, with libpq's
// reason, if libpq cannot parse `conninfo`.
absl::StatusOr<bool> ConninfoHasParam(const std::string& conninfo,
                                      absl::string_view key);

// `conninfo` with `key` set to `value`, overriding any earlier setting (libpq
// takes the last one), in the same form as `conninfo`: a percent-encoded
// query parameter for a URL, a quoted pair otherwise. Does not validate.
std::string WithConninfoParam(absl::string_view conninfo, absl::string_view key,
                              absl::string_view value);

}  // namespace approval

#endif  // APPROVAL_SERVER_STORE_POSTGRES_CONNINFO_H_
