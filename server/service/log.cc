#include "server/service/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace approval {
namespace {

std::atomic<int> g_format{static_cast<int>(LogFormat::kJson)};
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

// The length of the well-formed UTF-8 sequence at the start of `s`, or 0.
size_t Utf8Length(absl::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t lead = byte(0);
  size_t n = 0;
  uint8_t lo = 0x80;
  uint8_t hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) lo = 0xA0;  // overlong
    if (lead == 0xED) hi = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) lo = 0x90;  // overlong
    if (lead == 0xF4) hi = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return n;
}

// `s` as the inside of a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD.
void AppendEscaped(std::string& out, absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8Length(s.substr(i));
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

std::string Latency(double ms) { return absl::StrFormat("%.3f", ms); }

std::string FormatJson(const LogRecord& r, absl::string_view time) {
  std::string out = "{";
  bool first = true;
  auto key = [&](absl::string_view k) {
    if (!first) out += ',';
    first = false;
    out += '"';
    AppendEscaped(out, k);
    out += "\":";
  };
  auto str = [&](absl::string_view k, absl::string_view v, bool always) {
    if (v.empty() && !always) return;
    key(k);
    out += '"';
    AppendEscaped(out, v);
    out += '"';
  };
  str("time", time, true);
  str("level", LogLevelName(r.level), true);
  str("event", r.event, true);
  str("method", r.method, false);
  str("caller", r.caller, false);
  str("approval_id", r.approval_id, false);
  str("code", r.code, false);
  if (r.latency_ms) {
    key("latency_ms");
    out += Latency(*r.latency_ms);
  }
  for (const auto& [k, v] : r.fields) str(k, v, true);
  str("message", r.message, true);
  out += "}\n";
  return out;
}

// A text-mode value: escaped as in JSON, quoted when it has spaces, quotes
// or '=' so that key=value pairs stay unambiguous.
void AppendTextValue(std::string& out, absl::string_view v) {
  std::string escaped;
  AppendEscaped(escaped, v);
  if (escaped.empty() || escaped.find_first_of(" =\"") != std::string::npos) {
    absl::StrAppend(&out, "\"", escaped, "\"");
  } else {
    out += escaped;
  }
}

std::string FormatText(const LogRecord& r, absl::string_view time) {
  std::string level = absl::AsciiStrToUpper(LogLevelName(r.level));
  std::string out = absl::StrFormat("%s %-5s ", time, level);
  AppendEscaped(out, r.event);
  if (!r.message.empty()) {
    out += ": ";
    AppendEscaped(out, r.message);
  }
  auto kv = [&](absl::string_view k, absl::string_view v) {
    if (v.empty()) return;
    absl::StrAppend(&out, " ", k, "=");
    AppendTextValue(out, v);
  };
  kv("method", r.method);
  kv("caller", r.caller);
  kv("approval_id", r.approval_id);
  kv("code", r.code);
  if (r.latency_ms) kv("latency_ms", Latency(*r.latency_ms));
  for (const auto& [k, v] : r.fields) kv(k, v);
  out += '\n';
  return out;
}

}  // namespace

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "error";
}

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  for (LogLevel l :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == LogLevelName(l)) return l;
  }
  return absl::InvalidArgumentError(
      "must be one of \"debug\", \"info\", \"warn\", \"error\"");
}

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  if (name == "json") return LogFormat::kJson;
  if (name == "text") return LogFormat::kText;
  return absl::InvalidArgumentError("must be \"json\" or \"text\"");
}

std::string FormatLogRecord(const LogRecord& record, absl::Time time,
                            LogFormat format) {
  const std::string t =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
  return format == LogFormat::kJson ? FormatJson(record, t)
                                    : FormatText(record, t);
}

void SetLogOptions(const LogOptions& options) {
  g_format.store(static_cast<int>(options.format));
  g_level.store(static_cast<int>(options.level));
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void Log(const LogRecord& record) {
  if (!record.always && !LogEnabled(record.level)) return;
  const std::string line = FormatLogRecord(
      record, absl::Now(), static_cast<LogFormat>(g_format.load()));
  // One write(2) per line keeps concurrent lines whole.
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace approval
