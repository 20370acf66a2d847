// The broker's log: one line per record on stderr, either a JSON object
// (the default, for collectors) or a human-readable line (for terminals).
//
// JSON schema, keys in this order, optional keys only when they apply:
//   time         RFC 3339 UTC with microseconds, "2024-05-01T12:00:00.123456Z"
//   level        "debug" | "info" | "warn" | "error"
//   event        stable snake_case name of what happened ("rpc", "serving")
//   method       gRPC method name ("RequestApproval")
//   caller       the authenticated principal's identity
//   approval_id  the approval the record is about
//   code         gRPC status code name ("OK", "PERMISSION_DENIED")
//   latency_ms   call duration in milliseconds (a JSON number)
//   <extra>      record-specific string fields (e.g. "peer", "grpc_address")
//   message      free text for humans
// Every string is escaped (quotes, backslashes, control characters) and
// invalid UTF-8 becomes U+FFFD, so a line is always one valid JSON object.
//
// Callers never pass tokens, authorization headers or raw request
// parameters: records name things, they do not copy request payloads.
//
// The format and minimum level are process-wide (SetLogOptions, once at
// start-up from the config); logging is thread-safe, one write(2) per line.
#ifndef APPROVAL_SERVER_SERVICE_LOG_H_
#define APPROVAL_SERVER_SERVICE_LOG_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace approval {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kJson, kText };

struct LogOptions {
  LogFormat format = LogFormat::kJson;  // default JSON lines
  LogLevel level = LogLevel::kInfo;     // default: info and above
};

// "debug", "info", "warn", "error".
absl::string_view LogLevelName(LogLevel level);
// The inverse of LogLevelName; INVALID_ARGUMENT naming the accepted values.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
// "json" or "text"; INVALID_ARGUMENT naming the accepted values otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);

// One record. Empty strings and an unset latency are left out of the line.
struct LogRecord {
  LogLevel level = LogLevel::kInfo;
  std::string event;
  std::string method;
  std::string caller;
  std::string approval_id;
  std::string code;
  std::optional<double> latency_ms;
  // Further string fields, in order; keys must be snake_case literals.
  std::vector<std::pair<std::string, std::string>> fields;
  std::string message;
  // Written whatever the level setting: start-up records that operators and
  // tools read (the "serving" record names the ports the broker bound).
  bool always = false;
};

// The line for `record` at `time` in `format`, ending in '\n'. Pure.
std::string FormatLogRecord(const LogRecord& record, absl::Time time,
                            LogFormat format);

// Sets the process-wide format and minimum level. Thread-safe.
void SetLogOptions(const LogOptions& options);
// True when records at `level` are written.
bool LogEnabled(LogLevel level);
// Writes `record` to stderr if its level is enabled (or record.always).
void Log(const LogRecord& record);

// The event name of a record logged with LogInfo and friends: a distinct
// type, so that the first argument cannot be message text by mistake.
struct Event {
  absl::string_view name;
};

template <typename... Args>
void LogAt(LogLevel level, Event event, const Args&... args) {
  if (!LogEnabled(level)) return;
  LogRecord r;
  r.level = level;
  r.event = std::string(event.name);
  r.message = absl::StrCat(args...);
  Log(r);
}
template <typename... Args>
void LogDebug(Event event, const Args&... args) {
  LogAt(LogLevel::kDebug, event, args...);
}
template <typename... Args>
void LogInfo(Event event, const Args&... args) {
  LogAt(LogLevel::kInfo, event, args...);
}
template <typename... Args>
void LogWarning(Event event, const Args&... args) {
  LogAt(LogLevel::kWarn, event, args...);
}
template <typename... Args>
void LogError(Event event, const Args&... args) {
  LogAt(LogLevel::kError, event, args...);
}

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_LOG_H_
