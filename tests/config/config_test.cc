#include "server/config/config.h"

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>

#include "tests/support/certs/test_certs.h"

namespace approval {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using testing::TempDir;

// A Config that passes ValidateConfig without touching files: a database and
// an mTLS-free, token-free setup is impossible, so tokens_file points at a
// file written to `dir`.
Config ValidBase(const TempDir& dir) {
  Config c;
  c.database_url = "postgresql://broker@localhost/approval";
  c.auth.tokens_file = dir.Write("tokens.json", R"({"tokens": []})");
  return c;
}

std::string ParseError(absl::string_view text) {
  absl::StatusOr<Config> c = ParseConfig(text, "config.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

std::string ValidationError(const Config& c) {
  absl::Status s = ValidateConfig(c);
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  return std::string(s.message());
}

TEST_CASE("ParseConfig of an empty object keeps every documented default",
          "[config]") {
  absl::StatusOr<Config> c = ParseConfig("{}", "config.json");
  REQUIRE(c.ok());
  CHECK(c->database_url.empty());
  CHECK(c->database_pool_size == 8);
  CHECK(c->database_statement_timeout == absl::Seconds(5));
  CHECK(c->database_write_batch == 64);
  CHECK(c->database_write_batch_wait == absl::ZeroDuration());
  CHECK(c->worker_threads == 64);
  CHECK(c->database_terminal_cache_entries == 10000);
  CHECK(c->listen_address == "127.0.0.1:50051");
  CHECK(c->metrics_address == "127.0.0.1:9464");
  CHECK_FALSE(c->tls.enabled());
  CHECK(c->auth.tokens_file.empty());
  CHECK(c->auth.mtls_identities.empty());
  CHECK(c->limits.max_action_bytes == 128);
  CHECK(c->limits.max_resource_bytes == 1024);
  CHECK(c->limits.max_parameters_bytes == 65536);
  CHECK(c->limits.max_justification_bytes == 4096);
  CHECK(c->limits.max_comment_bytes == 4096);
  CHECK(c->limits.max_idempotency_key_bytes == 128);
  CHECK(c->limits.default_ttl == absl::Hours(1));
  CHECK(c->limits.min_ttl == absl::Seconds(1));
  CHECK(c->limits.max_ttl == absl::Hours(168));
  CHECK(c->expiry_sweep_interval == absl::Seconds(1));
  CHECK(c->event_poll_interval == absl::Seconds(1));
  CHECK(c->stream_max_backlog == 10000);
  CHECK(c->stream_overflow_grace == absl::Seconds(5));
  CHECK(c->shutdown_grace == absl::Seconds(5));
}

TEST_CASE("ParseConfig reads every key of a full file", "[config]") {
  absl::StatusOr<Config> c = ParseConfig(R"({
    "database_url": "postgresql://broker@db/approval",
    "database_pool_size": 16,
    "database_statement_timeout": "2500ms",
    "database_write_batch": 16,
    "database_write_batch_wait": "2ms",
    "worker_threads": 32,
    "database_terminal_cache_entries": 0,
    "listen_address": "0.0.0.0:8443",
    "metrics_address": "",
    "tls": {"cert_file": "/etc/broker/server.crt",
            "key_file": "/etc/broker/server.key",
            "client_ca_file": "/etc/broker/clients-ca.crt"},
    "auth": {"tokens_file": "/etc/broker/tokens.json",
             "mtls_identities": [
               {"identity": "spiffe://example.org/reviewer/carol",
                "roles": ["reviewer"]},
               {"identity": "ops-admin", "roles": ["admin", "reviewer"]}]},
    "limits": {"max_action_bytes": 64, "max_resource_bytes": 512,
               "max_parameters_bytes": 1048576, "max_justification_bytes": 100,
               "max_comment_bytes": 200, "max_idempotency_key_bytes": 32,
               "default_ttl": "30m", "min_ttl": "10s", "max_ttl": "24h"},
    "expiry_sweep_interval": "250ms",
    "event_poll_interval": "2s",
    "stream_max_backlog": 500,
    "stream_overflow_grace": "750ms",
    "shutdown_grace": "1m"
  })",
                                         "config.json");
  REQUIRE(c.ok());
  CHECK(c->database_url == "postgresql://broker@db/approval");
  CHECK(c->database_pool_size == 16);
  CHECK(c->database_write_batch == 16);
  CHECK(c->database_write_batch_wait == absl::Milliseconds(2));
  CHECK(c->worker_threads == 32);
  CHECK(c->database_statement_timeout == absl::Milliseconds(2500));
  CHECK(c->database_terminal_cache_entries == 0);
  CHECK(c->listen_address == "0.0.0.0:8443");
  CHECK(c->metrics_address.empty());
  CHECK(c->tls.cert_file == "/etc/broker/server.crt");
  CHECK(c->tls.key_file == "/etc/broker/server.key");
  CHECK(c->tls.client_ca_file == "/etc/broker/clients-ca.crt");
  CHECK(c->tls.enabled());
  CHECK(c->auth.tokens_file == "/etc/broker/tokens.json");
  REQUIRE(c->auth.mtls_identities.size() == 2);
  CHECK(c->auth.mtls_identities[0].identity ==
        "spiffe://example.org/reviewer/carol");
  CHECK(c->auth.mtls_identities[0].roles == std::set<Role>{Role::kReviewer});
  CHECK(c->auth.mtls_identities[1].identity == "ops-admin");
  CHECK(c->auth.mtls_identities[1].roles ==
        std::set<Role>{Role::kAdmin, Role::kReviewer});
  CHECK(c->limits.max_action_bytes == 64);
  CHECK(c->limits.max_resource_bytes == 512);
  CHECK(c->limits.max_parameters_bytes == 1048576);
  CHECK(c->limits.max_justification_bytes == 100);
  CHECK(c->limits.max_comment_bytes == 200);
  CHECK(c->limits.max_idempotency_key_bytes == 32);
  CHECK(c->limits.default_ttl == absl::Minutes(30));
  CHECK(c->limits.min_ttl == absl::Seconds(10));
  CHECK(c->limits.max_ttl == absl::Hours(24));
  CHECK(c->expiry_sweep_interval == absl::Milliseconds(250));
  CHECK(c->event_poll_interval == absl::Seconds(2));
  CHECK(c->stream_max_backlog == 500);
  CHECK(c->stream_overflow_grace == absl::Milliseconds(750));
  CHECK(c->shutdown_grace == absl::Minutes(1));
}

TEST_CASE("ParseConfig allows // and /* */ comments", "[config]") {
  absl::StatusOr<Config> c = ParseConfig(R"(
    // The broker's database.
    {
      "database_url": "postgresql://db/approval",  // trailing comment
      /* a block comment */ "database_pool_size": 4
    })",
                                         "config.json");
  REQUIRE(c.ok());
  CHECK(c->database_url == "postgresql://db/approval");
  CHECK(c->database_pool_size == 4);
}

// Found by fuzz/canonical_fuzzer (the same lexer): a NUL byte ended the
// file, so keys written after it were silently ignored.
TEST_CASE("A NUL byte in a config file is an error, not its end", "[config]") {
  const std::string text("{}\0{\"listen_address\": 1}", 24);
  CHECK_THAT(ParseError(text),
             Equals("config.json: invalid JSON: NUL byte at offset 2"));
}

TEST_CASE("A bad duration names the source, the key and the value",
          "[config]") {
  CHECK_THAT(ParseError(R"({"limits": {"max_ttl": "forever"}})"),
             Equals("config.json: limits.max_ttl: \"forever\" is not a "
                    "duration (like \"90s\", \"1h\")"));
}

TEST_CASE("A duration given as a number is a type error", "[config]") {
  CHECK_THAT(ParseError(R"({"shutdown_grace": 5})"),
             Contains("config.json: shutdown_grace: 5 is a number, expected "
                      "a duration string"));
}

TEST_CASE("An unknown key is an error naming the dotted key", "[config]") {
  CHECK_THAT(ParseError(R"({"limits": {"max_tll": "1h"}})"),
             Contains("config.json: limits.max_tll: unknown key") &&
                 Contains("max_ttl"));
  CHECK_THAT(ParseError(R"({"listen_adress": "127.0.0.1:1"})"),
             Contains("config.json: listen_adress: unknown key"));
  CHECK_THAT(
      ParseError(
          R"({"auth": {"mtls_identities": [{"identity": "x", "role": []}]}})"),
      Contains("config.json: auth.mtls_identities[0].role: unknown key"));
}

TEST_CASE("The log section defaults to JSON at info and reads text and levels",
          "[config]") {
  absl::StatusOr<Config> defaults = ParseConfig("{}", "config.json");
  REQUIRE(defaults.ok());
  CHECK(defaults->log.format == LogFormat::kJson);
  CHECK(defaults->log.level == LogLevel::kInfo);
  absl::StatusOr<Config> c = ParseConfig(
      R"({"log": {"format": "text", "level": "debug"}})", "config.json");
  REQUIRE(c.ok());
  CHECK(c->log.format == LogFormat::kText);
  CHECK(c->log.level == LogLevel::kDebug);
}

TEST_CASE("An unknown log format or level is refused with its config path",
          "[config]") {
  CHECK_THAT(ParseError(R"({"log": {"format": "xml"}})"),
             Contains("config.json: log.format: \"xml\"") &&
                 Contains("\"json\" or \"text\""));
  CHECK_THAT(ParseError(R"({"log": {"level": "verbose"}})"),
             Contains("config.json: log.level: \"verbose\"") &&
                 Contains("\"debug\", \"info\", \"warn\", \"error\""));
  CHECK_THAT(ParseError(R"({"log": {"level": 3}})"),
             Contains("config.json: log.level: 3 is a number"));
  CHECK_THAT(ParseError(R"({"log": {"colour": "on"}})"),
             Contains("config.json: log.colour: unknown key"));
}

TEST_CASE("A repeated key is an error", "[config]") {
  CHECK_THAT(
      ParseError(R"({"database_pool_size": 4, "database_pool_size": 5})"),
      Contains("config.json: database_pool_size: key \"database_pool_size\" "
               "appears twice"));
}

TEST_CASE("A wrong JSON type names the key, the value and the expected type",
          "[config]") {
  CHECK_THAT(ParseError(R"({"database_pool_size": "8"})"),
             Equals("config.json: database_pool_size: \"8\" is a string, "
                    "expected an integer"));
  CHECK_THAT(ParseError(R"({"database_pool_size": 8.5})"),
             Contains("database_pool_size: 8.5 is a fractional number"));
  CHECK_THAT(ParseError(R"({"tls": ["a"]})"),
             Contains("config.json: tls: [\"a\"] is an array, expected an "
                      "object"));
  CHECK_THAT(ParseError(R"({"listen_address": null})"),
             Contains("listen_address: null is null, expected a string"));
  CHECK_THAT(ParseError(R"({"limits": {"max_comment_bytes": -1}})"),
             Contains("limits.max_comment_bytes: -1 is negative"));
  CHECK_THAT(ParseError("[]"), Contains("(top level)"));
}

TEST_CASE("Invalid JSON is an error naming the source", "[config]") {
  CHECK_THAT(ParseError(R"({"database_url": )"),
             Contains("config.json: invalid JSON"));
}

TEST_CASE("An unknown role names the key and the value", "[config]") {
  CHECK_THAT(
      ParseError(R"({"auth": {"mtls_identities": [
                 {"identity": "carol", "roles": ["reviewer", "approver"]}]}})"),
      Equals("config.json: auth.mtls_identities[0].roles[1]: "
             "\"approver\" is not a role (agent, reviewer, admin, observer)"));
}

TEST_CASE("ValidateConfig accepts a minimal valid config", "[config]") {
  TempDir dir;
  CHECK(ValidateConfig(ValidBase(dir)).ok());
}

TEST_CASE("ValidateConfig requires database_url only when asked", "[config]") {
  TempDir dir;
  Config c = ValidBase(dir);
  c.database_url.clear();
  CHECK_THAT(ValidationError(c), Contains("database_url: required"));
  CHECK(ValidateConfig(c, /*require_database=*/false).ok());
}

TEST_CASE("ValidateConfig rejects min_ttl greater than max_ttl", "[config]") {
  TempDir dir;
  Config c = ValidBase(dir);
  c.limits.min_ttl = absl::Hours(200);
  CHECK_THAT(ValidationError(c),
             Equals("limits.min_ttl: 200h is greater than limits.max_ttl: "
                    "168h"));
}

TEST_CASE("ValidateConfig rejects a default_ttl outside min_ttl..max_ttl",
          "[config]") {
  TempDir dir;
  Config c = ValidBase(dir);
  c.limits.default_ttl = absl::Hours(200);
  CHECK_THAT(ValidationError(c),
             Equals("limits.default_ttl: 200h is greater than "
                    "limits.max_ttl: 168h"));
  c.limits.default_ttl = absl::Milliseconds(500);
  CHECK_THAT(ValidationError(c),
             Equals("limits.default_ttl: 500ms is less than limits.min_ttl: "
                    "1s"));
}

TEST_CASE("ValidateConfig rejects non-positive durations", "[config]") {
  TempDir dir;
  Config c = ValidBase(dir);
  c.event_poll_interval = absl::ZeroDuration();
  CHECK_THAT(ValidationError(c),
             Equals("event_poll_interval: 0 must be a positive, finite "
                    "duration"));
  c = ValidBase(dir);
  c.database_statement_timeout = absl::Seconds(-1);
  CHECK_THAT(ValidationError(c), Contains("database_statement_timeout: -1s"));
}

TEST_CASE("ValidateConfig bounds the pool size, byte limits and backlog",
          "[config]") {
  TempDir dir;
  Config c = ValidBase(dir);
  c.database_pool_size = 0;
  CHECK_THAT(ValidationError(c),
             Equals("database_pool_size: 0 is out of range 1..256"));
  c = ValidBase(dir);
  c.database_pool_size = 257;
  CHECK_THAT(ValidationError(c), Contains("database_pool_size: 257"));
  c = ValidBase(dir);
  c.database_terminal_cache_entries = -1;
  CHECK_THAT(ValidationError(c),
             Equals("database_terminal_cache_entries: -1 is out of range "
                    "0..10000000"));
  c = ValidBase(dir);
  c.limits.max_resource_bytes = 0;
  CHECK_THAT(ValidationError(c),
             Equals("limits.max_resource_bytes: 0 must be > 0"));
  c = ValidBase(dir);
  c.limits.max_parameters_bytes = 16 * 1024 * 1024 + 1;
  CHECK_THAT(ValidationError(c),
             Contains("limits.max_parameters_bytes: 16777217 exceeds"));
  c = ValidBase(dir);
  c.stream_max_backlog = 0;
  CHECK_THAT(ValidationError(c), Contains("stream_max_backlog: 0"));
  c = ValidBase(dir);
  c.stream_overflow_grace = absl::ZeroDuration();
  CHECK_THAT(ValidationError(c), Contains("stream_overflow_grace: "));
}

TEST_CASE("ValidateConfig bounds the write batch, its wait and the workers",
          "[config]") {
  TempDir dir;
  Config c = ValidBase(dir);
  c.database_write_batch = 0;
  CHECK_THAT(ValidationError(c),
             Equals("database_write_batch: 0 is out of range 1..1024"));
  c = ValidBase(dir);
  c.worker_threads = 1025;
  CHECK_THAT(ValidationError(c),
             Equals("worker_threads: 1025 is out of range 1..1024"));
  c = ValidBase(dir);
  c.database_write_batch_wait = absl::Milliseconds(101);
  CHECK_THAT(ValidationError(c),
             Equals("database_write_batch_wait: 101ms is out of range "
                    "0..100ms"));
  c = ValidBase(dir);
  c.database_write_batch_wait = -absl::Milliseconds(1);
  CHECK_THAT(ValidationError(c), Contains("database_write_batch_wait: -1ms"));
  c = ValidBase(dir);
  c.database_write_batch = 1;
  c.worker_threads = 1;
  c.database_write_batch_wait = absl::Milliseconds(100);
  CHECK(ValidateConfig(c).ok());
}

TEST_CASE("ValidateConfig wants host:port listen addresses", "[config]") {
  TempDir dir;
  Config c = ValidBase(dir);
  c.listen_address = "50051";
  CHECK_THAT(ValidationError(c), Contains("listen_address: \"50051\" is not "
                                          "\"host:port\""));
  c.listen_address = "";
  CHECK_THAT(ValidationError(c), Contains("listen_address: \"\""));
  c.listen_address = "localhost:http";
  CHECK_THAT(ValidationError(c), Contains("listen_address"));
  c.listen_address = "[::1]:0";
  c.metrics_address = ":9464";
  CHECK_THAT(ValidationError(c), Contains("metrics_address: \":9464\""));
  c.metrics_address = "";  // metrics off
  CHECK(ValidateConfig(c).ok());
}

TEST_CASE("ValidateConfig rejects a partial tls section", "[config]") {
  TempDir dir;
  Config c = ValidBase(dir);
  c.tls.cert_file = dir.Write("server.crt", "pem");
  CHECK_THAT(ValidationError(c),
             Contains("missing: tls.key_file, tls.client_ca_file"));
}

TEST_CASE("ValidateConfig wants readable tls files", "[config]") {
  TempDir dir;
  Config c = ValidBase(dir);
  c.tls.cert_file = dir.Write("server.crt", "pem");
  c.tls.key_file = dir.Write("server.key", "pem");
  c.tls.client_ca_file = dir.path() + "/missing-ca.crt";
  CHECK_THAT(ValidationError(c),
             Contains("tls.client_ca_file: \"" + dir.path() +
                      "/missing-ca.crt\" is not readable"));
  c.tls.client_ca_file = dir.Write("ca.crt", "pem");
  CHECK(ValidateConfig(c).ok());
}

TEST_CASE("ValidateConfig wants some way to authenticate", "[config]") {
  TempDir dir;
  Config c = ValidBase(dir);
  c.auth.tokens_file.clear();
  CHECK_THAT(ValidationError(c), Contains("auth.tokens_file, "
                                          "auth.mtls_identities or "
                                          "auth.oidc"));
  c.auth.tokens_file = dir.path() + "/absent.json";
  CHECK_THAT(ValidationError(c), Contains("auth.tokens_file: "));
}

TEST_CASE("ValidateConfig checks mTLS identities", "[config]") {
  TempDir dir;
  Config c = ValidBase(dir);
  c.auth.mtls_identities = {{"carol", {Role::kReviewer}}};
  CHECK_THAT(ValidationError(c),
             Contains("auth.mtls_identities: configured without tls"));

  c.tls = {dir.Write("s.crt", "pem"), dir.Write("s.key", "pem"),
           dir.Write("ca.crt", "pem")};
  CHECK(ValidateConfig(c).ok());
  c.auth.mtls_identities.push_back({"carol", {Role::kAdmin}});
  CHECK_THAT(ValidationError(c),
             Equals("auth.mtls_identities[1].identity: \"carol\" is listed "
                    "twice"));
  c.auth.mtls_identities = {{"dave", {}}};
  CHECK_THAT(ValidationError(c),
             Contains("auth.mtls_identities[0].roles: \"dave\" has no roles"));
}

TEST_CASE("Environment variables override the file", "[config]") {
  absl::StatusOr<Config> c = ParseConfig(R"({
    "database_url": "postgresql://file/db",
    "listen_address": "127.0.0.1:1111",
    "metrics_address": "127.0.0.1:2222"})",
                                         "config.json");
  REQUIRE(c.ok());
  const std::map<std::string, std::string> env = {
      {"APPROVAL_BROKER_DATABASE_URL", "postgresql://env/db"},
      {"APPROVAL_BROKER_LISTEN_ADDRESS", "0.0.0.0:3333"},
      {"APPROVAL_BROKER_METRICS_ADDRESS", ""},
      {"UNRELATED", "x"},
  };
  ApplyEnvironment(*c, [&env](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
  CHECK(c->database_url == "postgresql://env/db");
  CHECK(c->listen_address == "0.0.0.0:3333");
  CHECK(c->metrics_address.empty());  // set but empty: metrics off
}

TEST_CASE("Unset environment variables leave the file's values", "[config]") {
  absl::StatusOr<Config> c =
      ParseConfig(R"({"database_url": "postgresql://file/db"})", "c.json");
  REQUIRE(c.ok());
  ApplyEnvironment(*c, [](const char*) { return std::nullopt; });
  CHECK(c->database_url == "postgresql://file/db");
  CHECK(c->listen_address == "127.0.0.1:50051");
  CHECK(c->metrics_address == "127.0.0.1:9464");
}

TEST_CASE("LoadConfigFile resolves relative paths against the file",
          "[config]") {
  TempDir dir;
  const std::string path = dir.Write("broker.jsonc", R"({
    // relative to this file
    "tls": {"cert_file": "tls/server.crt", "key_file": "/abs/server.key",
            "client_ca_file": "ca.crt"},
    "auth": {"tokens_file": "tokens.json"}})");
  absl::StatusOr<Config> c = LoadConfigFile(path);
  REQUIRE(c.ok());
  CHECK(c->tls.cert_file == dir.path() + "/tls/server.crt");
  CHECK(c->tls.key_file == "/abs/server.key");
  CHECK(c->tls.client_ca_file == dir.path() + "/ca.crt");
  CHECK(c->auth.tokens_file == dir.path() + "/tokens.json");
}

TEST_CASE("LoadConfigFile names the file in errors", "[config]") {
  TempDir dir;
  absl::StatusOr<Config> missing = LoadConfigFile(dir.path() + "/none.json");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(missing.status().message()),
             Contains(dir.path() + "/none.json"));

  const std::string path = dir.Write("bad.json", R"({"shutdown_grace": "x"})");
  absl::StatusOr<Config> bad = LoadConfigFile(path);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(std::string(bad.status().message()),
             Contains(path + ": shutdown_grace: \"x\""));
}

}  // namespace
}  // namespace approval

namespace approval {
namespace {

TEST_CASE(
    "approval_tokens defaults to the broker's issuer, no audience and "
    "no retired key",
    "[config][token]") {
  absl::StatusOr<Config> c = ParseConfig("{}", "config.json");
  REQUIRE(c.ok());
  CHECK(c->approval_tokens.issuer == "approval-broker");
  CHECK(c->approval_tokens.audience.empty());
  CHECK(c->approval_tokens.retired_keys.empty());
}

TEST_CASE("approval_tokens reads issuer, audience and retired keys",
          "[config][token]") {
  absl::StatusOr<Config> c = ParseConfig(
      R"({"approval_tokens": {"issuer": "broker-eu", "audience": "deployer",
          "retired_keys": [{"public_key_file": "old.pub.pem",
                            "verify_until": "2026-12-31T00:00:00Z"}]}})",
      "config.json");
  REQUIRE(c.ok());
  CHECK(c->approval_tokens.issuer == "broker-eu");
  CHECK(c->approval_tokens.audience == "deployer");
  REQUIRE(c->approval_tokens.retired_keys.size() == 1);
  CHECK(c->approval_tokens.retired_keys[0].public_key_file == "old.pub.pem");
  CHECK(c->approval_tokens.retired_keys[0].verify_until ==
        absl::FromUnixSeconds(1798675200));
}

TEST_CASE("a retired key without a valid verify_until is refused",
          "[config][token]") {
  CHECK_THAT(
      ParseError(R"({"approval_tokens": {"retired_keys": [
          {"public_key_file": "old.pub.pem", "verify_until": "soon"}]}})"),
      Contains("approval_tokens.retired_keys[0].verify_until: \"soon\" is not "
               "an RFC 3339 time"));
  CHECK_THAT(ParseError(R"({"approval_tokens": {"retired_keys": [
          {"public_key_file": "old.pub.pem"}]}})"),
             Contains("approval_tokens.retired_keys[0].verify_until: "
                      "required"));
}

}  // namespace
}  // namespace approval
