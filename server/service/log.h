// Minimal structured-enough logging to stderr: one line per call, UTC
// timestamp, level. Thread-safe (a single write per line).
#ifndef APPROVAL_SERVER_SERVICE_LOG_H_
#define APPROVAL_SERVER_SERVICE_LOG_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace approval {

void LogLine(absl::string_view level, absl::string_view message);

template <typename... Args>
void LogInfo(const Args&... args) {
  LogLine("INFO", absl::StrCat(args...));
}
template <typename... Args>
void LogWarning(const Args&... args) {
  LogLine("WARN", absl::StrCat(args...));
}
template <typename... Args>
void LogError(const Args&... args) {
  LogLine("ERROR", absl::StrCat(args...));
}

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_LOG_H_
