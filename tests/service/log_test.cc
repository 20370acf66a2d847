// The log line formatter: every JSON line parses, whatever bytes a value
// holds; the text line stays one line; the level setting filters records.
#include "server/service/log.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace approval {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

const absl::Time kTime = absl::FromUnixMicros(1714564800123456);

// The JSON line of `r` at kTime, parsed; fails the test if it is not one
// line holding one JSON object.
nlohmann::ordered_json JsonOf(const LogRecord& r) {
  const std::string line = FormatLogRecord(r, kTime, LogFormat::kJson);
  INFO(line);
  REQUIRE_THAT(line, EndsWith("\n"));
  REQUIRE(line.find('\n') == line.size() - 1);
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(line);
  REQUIRE(j.is_object());
  return j;
}

LogRecord Record(std::string message) {
  LogRecord r;
  r.event = "test_event";
  r.message = std::move(message);
  return r;
}

TEST_CASE("A JSON line holds time, level, event, the call's fields, message",
          "[log]") {
  LogRecord r;
  r.level = LogLevel::kWarn;
  r.event = "rpc";
  r.method = "Decide";
  r.caller = "alice";
  r.approval_id = "0b0e8d6c-7c1a-4f7e-9d8c-2b1f4c1d2e3f";
  r.code = "PERMISSION_DENIED";
  r.latency_ms = 1.5;
  r.fields = {{"peer", "ipv4:127.0.0.1:5000"}};
  r.message = "Decide PERMISSION_DENIED";
  nlohmann::ordered_json j = JsonOf(r);
  CHECK(j["time"] == "2024-05-01T12:00:00.123456Z");
  CHECK(j["level"] == "warn");
  CHECK(j["event"] == "rpc");
  CHECK(j["method"] == "Decide");
  CHECK(j["caller"] == "alice");
  CHECK(j["approval_id"] == "0b0e8d6c-7c1a-4f7e-9d8c-2b1f4c1d2e3f");
  CHECK(j["code"] == "PERMISSION_DENIED");
  CHECK(j["latency_ms"].is_number());
  CHECK(j["latency_ms"].get<double>() == Approx(1.5));
  CHECK(j["peer"] == "ipv4:127.0.0.1:5000");
  CHECK(j["message"] == "Decide PERMISSION_DENIED");
  CHECK(j.begin().key() == "time");
}

TEST_CASE("A JSON line leaves out the call fields a record does not have",
          "[log]") {
  nlohmann::ordered_json j = JsonOf(Record("started"));
  CHECK(j.size() == 4);  // time, level, event, message
  CHECK(j["level"] == "info");
  CHECK_FALSE(j.contains("latency_ms"));
  CHECK_FALSE(j.contains("caller"));
}

TEST_CASE("Quotes, backslashes and control characters are escaped in JSON",
          "[log]") {
  const std::string nasty =
      "say \"hi\" \\ back\nslash\r\t\x01\x1f\x7f end\"}{\"level\":\"error";
  LogRecord r = Record(nasty);
  r.caller = nasty;
  r.fields = {{"extra", nasty}};
  nlohmann::ordered_json j = JsonOf(r);
  CHECK(j["message"] == nasty);
  CHECK(j["caller"] == nasty);
  CHECK(j["extra"] == nasty);
  CHECK(j["level"] == "info");  // the injected "level" stayed text
}

TEST_CASE("Invalid UTF-8 in a value becomes U+FFFD and valid UTF-8 stays",
          "[log]") {
  const std::string replacement = "\xEF\xBF\xBD";
  struct Case {
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x91",
       "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x91"},
      {"a\xFF"
       "b",
       "a" + replacement + "b"},
      {"\xC0\xAF", replacement + replacement},  // overlong '/'
      {"\xED\xA0\x80", replacement + replacement + replacement},  // surrogate
      {"\xF4\x90\x80\x80",  // above U+10FFFF
       replacement + replacement + replacement + replacement},
      {"cut \xE2\x82", "cut " + replacement + replacement},  // truncated
  };
  for (const Case& c : cases) {
    INFO(c.in);
    CHECK(JsonOf(Record(c.in))["message"] == c.out);
  }
}

TEST_CASE("A text line is one line with the level, event, message and fields",
          "[log]") {
  LogRecord r = Record("first\nsecond \"quoted\"");
  r.level = LogLevel::kError;
  r.method = "GetApproval";
  r.caller = "bob smith";
  r.code = "NOT_FOUND";
  r.latency_ms = 2;
  const std::string line = FormatLogRecord(r, kTime, LogFormat::kText);
  INFO(line);
  CHECK(line.find('\n') == line.size() - 1);
  CHECK_THAT(line, StartsWith("2024-05-01T12:00:00.123456Z ERROR test_event: "
                              "first\\nsecond \\\"quoted\\\""));
  CHECK_THAT(line, Contains(" method=GetApproval"));
  CHECK_THAT(line, Contains(" caller=\"bob smith\""));
  CHECK_THAT(line, Contains(" code=NOT_FOUND"));
  CHECK_THAT(line, Contains(" latency_ms=2.000"));
}

TEST_CASE("Log level and format names parse and unknown names are refused",
          "[log]") {
  CHECK(*ParseLogLevel("debug") == LogLevel::kDebug);
  CHECK(*ParseLogLevel("info") == LogLevel::kInfo);
  CHECK(*ParseLogLevel("warn") == LogLevel::kWarn);
  CHECK(*ParseLogLevel("error") == LogLevel::kError);
  CHECK(*ParseLogFormat("json") == LogFormat::kJson);
  CHECK(*ParseLogFormat("text") == LogFormat::kText);
  CHECK(ParseLogLevel("INFO").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ParseLogLevel("warning").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ParseLogFormat("logfmt").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

// Everything Log writes to stderr while `body` runs.
template <typename F>
std::string CaptureStderr(F body) {
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  const int saved = dup(STDERR_FILENO);
  REQUIRE(dup2(fileno(file), STDERR_FILENO) >= 0);
  body();
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out;
  std::rewind(file);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), file)) > 0) out.append(buf, n);
  std::fclose(file);
  return out;
}

TEST_CASE("The level setting drops less severe records", "[log]") {
  const std::string out = CaptureStderr([] {
    SetLogOptions({LogFormat::kJson, LogLevel::kWarn});
    LogDebug(Event{"dropped_debug"}, "no");
    LogInfo(Event{"dropped_info"}, "no");
    LogWarning(Event{"kept_warn"}, "yes");
    LogError(Event{"kept_error"}, "yes");
    SetLogOptions({});
  });
  INFO(out);
  CHECK_THAT(out, !Contains("dropped_"));
  CHECK_THAT(out, Contains("\"event\":\"kept_warn\""));
  CHECK_THAT(out, Contains("\"event\":\"kept_error\""));
  CHECK(LogEnabled(LogLevel::kInfo));
  CHECK_FALSE(LogEnabled(LogLevel::kDebug));
}

TEST_CASE("A record marked always is written at any level setting", "[log]") {
  const std::string out = CaptureStderr([] {
    SetLogOptions({LogFormat::kJson, LogLevel::kError});
    LogRecord serving;
    serving.event = "serving";
    serving.always = true;
    Log(serving);
    LogRecord ordinary;
    ordinary.event = "ordinary";
    Log(ordinary);
    SetLogOptions({});
  });
  INFO(out);
  CHECK_THAT(out, Contains("\"event\":\"serving\""));
  CHECK_THAT(out, !Contains("ordinary"));
}

TEST_CASE("The format setting switches stderr to text lines", "[log]") {
  const std::string out = CaptureStderr([] {
    SetLogOptions({LogFormat::kText, LogLevel::kDebug});
    LogDebug(Event{"shown"}, "in text");
    SetLogOptions({});
  });
  CHECK_THAT(out, EndsWith(" DEBUG shown: in text\n"));
  CHECK_THAT(out, !StartsWith("{"));
}

}  // namespace
}  // namespace approval
