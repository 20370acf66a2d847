#include "server/config/config.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "server/common/json_reader.h"
#include "server/common/read_file.h"
#include "server/common/strict_json.h"

namespace approval {
namespace {

using Json = JsonReader::Json;

constexpr size_t kMaxParametersBytesCeiling = 16 * 1024 * 1024;
constexpr int kMaxPoolSize = 256;
constexpr int kMaxThreadsOrBatch = 1024;
constexpr absl::Duration kMaxWriteBatchWait = absl::Milliseconds(100);
constexpr int kMaxTerminalCacheEntries = 10000000;

std::string Quote(absl::string_view s) { return QuoteJson(s); }

absl::Status CheckDuration(absl::string_view key, absl::Duration d) {
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", absl::FormatDuration(d),
                     " must be a positive, finite duration"));
  }
  return absl::OkStatus();
}

absl::Status CheckHostPort(absl::string_view key, const std::string& address) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": ", Quote(address), " is not \"host:port\" (", why, ")"));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("no port");
  const absl::string_view host = absl::string_view(address).substr(0, colon);
  const absl::string_view port = absl::string_view(address).substr(colon + 1);
  if (host.empty()) return bad("empty host");
  if (host.front() == '[' && host.back() != ']') return bad("unclosed [");
  uint32_t port_number = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(),
                   [](char ch) { return absl::ascii_isdigit(ch); }) ||
      !absl::SimpleAtoi(port, &port_number) || port_number > 65535) {
    return bad("port must be 0..65535");
  }
  return absl::OkStatus();
}

absl::Status CheckBytes(absl::string_view key, size_t value) {
  if (value == 0) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": 0 must be > 0"));
  }
  return absl::OkStatus();
}

JsonReader::Read ReadLimits(const JsonReader& r, Limits* l) {
  return r.Nested({
      {"max_action_bytes", r.Size(&l->max_action_bytes)},
      {"max_resource_bytes", r.Size(&l->max_resource_bytes)},
      {"max_parameters_bytes", r.Size(&l->max_parameters_bytes)},
      {"max_justification_bytes", r.Size(&l->max_justification_bytes)},
      {"max_comment_bytes", r.Size(&l->max_comment_bytes)},
      {"max_idempotency_key_bytes", r.Size(&l->max_idempotency_key_bytes)},
      {"default_ttl", r.Duration(&l->default_ttl)},
      {"min_ttl", r.Duration(&l->min_ttl)},
      {"max_ttl", r.Duration(&l->max_ttl)},
  });
}

// A string read by `parse` into `out`; an unknown value is refused with the
// key's path.
template <typename T>
JsonReader::Read ReadEnum(const JsonReader& r, T* out,
                          absl::StatusOr<T> (*parse)(absl::string_view)) {
  return [&r, out, parse](const Json& v, const std::string& path) {
    std::string name;
    if (absl::Status s = r.String(&name)(v, path); !s.ok()) return s;
    absl::StatusOr<T> parsed = parse(name);
    if (!parsed.ok()) {
      return r.Error(path,
                     absl::StrCat(Quote(name), " ", parsed.status().message()));
    }
    *out = *parsed;
    return absl::OkStatus();
  };
}

JsonReader::Read ReadLog(const JsonReader& r, LogOptions* o) {
  return r.Nested({
      {"format", ReadEnum(r, &o->format, &ParseLogFormat)},
      {"level", ReadEnum(r, &o->level, &ParseLogLevel)},
  });
}

// An RFC 3339 time ("2026-12-31T00:00:00Z").
JsonReader::Read ReadTime(const JsonReader& r, absl::Time* out) {
  return [&r, out](const Json& v, const std::string& path) {
    std::string text;
    if (absl::Status s = r.String(&text)(v, path); !s.ok()) return s;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, text, out, &err)) {
      return r.Error(path, absl::StrCat(Quote(text),
                                        " is not an RFC 3339 time (like "
                                        "\"2026-12-31T00:00:00Z\")"));
    }
    return absl::OkStatus();
  };
}

JsonReader::Read ReadApprovalTokens(const JsonReader& r,
                                    ApprovalTokenConfig* t) {
  return r.Nested({
      {"issuer", r.String(&t->issuer)},
      {"audience", r.String(&t->audience)},
      {"retired_keys",
       r.ObjectArray<RetiredSigningKey>(
           &t->retired_keys,
           [&r](RetiredSigningKey& k) -> std::vector<JsonReader::Field> {
             return {{"public_key_file", r.String(&k.public_key_file), true},
                     {"verify_until", ReadTime(r, &k.verify_until), true}};
           })},
  });
}

// The whole file: each section read by its owner's reader.
absl::Status ReadConfig(const JsonReader& r, const Json& root, Config& c) {
  return r.Object(
      root, "",
      {
          {"database_url", r.String(&c.database_url)},
          {"database_pool_size", r.Int(&c.database_pool_size)},
          {"database_statement_timeout",
           r.Duration(&c.database_statement_timeout)},
          {"database_write_batch", r.Int(&c.database_write_batch)},
          {"database_write_batch_wait",
           r.Duration(&c.database_write_batch_wait)},
          {"worker_threads", r.Int(&c.worker_threads)},
          {"database_terminal_cache_entries",
           r.Int(&c.database_terminal_cache_entries)},
          {"listen_address", r.String(&c.listen_address)},
          {"metrics_address", r.String(&c.metrics_address)},
          {"tls",
           r.Nested({{"cert_file", r.String(&c.tls.cert_file)},
                     {"key_file", r.String(&c.tls.key_file)},
                     {"client_ca_file", r.String(&c.tls.client_ca_file)}})},
          {"auth", ReadAuthConfig(r, &c.auth)},
          {"limits", ReadLimits(r, &c.limits)},
          {"expiry_sweep_interval", r.Duration(&c.expiry_sweep_interval)},
          {"event_poll_interval", r.Duration(&c.event_poll_interval)},
          {"stream_max_backlog", r.Int(&c.stream_max_backlog)},
          {"stream_overflow_grace", r.Duration(&c.stream_overflow_grace)},
          {"shutdown_grace", r.Duration(&c.shutdown_grace)},
          {"policy_file", r.String(&c.policy_file)},
          {"fingerprint_key_file", r.String(&c.fingerprint_key_file)},
          {"signing_key_file", r.String(&c.signing_key_file)},
          {"audit_trusted_keys", r.StringArray(&c.audit_trusted_keys)},
          {"approval_tokens", ReadApprovalTokens(r, &c.approval_tokens)},
          {"log", ReadLog(r, &c.log)},
          {"webhooks", ReadWebhooksConfig(r, &c.webhooks)},
      });
}

std::string Resolve(const std::filesystem::path& dir, const std::string& p) {
  if (p.empty() || dir.empty() || std::filesystem::path(p).is_absolute()) {
    return p;
  }
  return (dir / p).string();
}

// database_url, pool size, cache size and the two addresses.
absl::Status ValidateEndpoints(const Config& c, bool require_database) {
  if (require_database && c.database_url.empty()) {
    return absl::InvalidArgumentError(
        "database_url: required (set it in the config file or "
        "APPROVAL_BROKER_DATABASE_URL)");
  }
  if (c.database_pool_size < 1 || c.database_pool_size > kMaxPoolSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("database_pool_size: ", c.database_pool_size,
                     " is out of range 1..", kMaxPoolSize));
  }
  for (const auto& [key, value] :
       {std::pair<absl::string_view, int>{"database_write_batch",
                                          c.database_write_batch},
        std::pair<absl::string_view, int>{"worker_threads",
                                          c.worker_threads}}) {
    if (value < 1 || value > kMaxThreadsOrBatch) {
      return absl::InvalidArgumentError(absl::StrCat(
          key, ": ", value, " is out of range 1..", kMaxThreadsOrBatch));
    }
  }
  if (c.database_write_batch_wait < absl::ZeroDuration() ||
      c.database_write_batch_wait > kMaxWriteBatchWait) {
    return absl::InvalidArgumentError(absl::StrCat(
        "database_write_batch_wait: ",
        absl::FormatDuration(c.database_write_batch_wait),
        " is out of range 0..", absl::FormatDuration(kMaxWriteBatchWait)));
  }
  if (c.database_terminal_cache_entries < 0 ||
      c.database_terminal_cache_entries > kMaxTerminalCacheEntries) {
    return absl::InvalidArgumentError(absl::StrCat(
        "database_terminal_cache_entries: ", c.database_terminal_cache_entries,
        " is out of range 0..", kMaxTerminalCacheEntries));
  }
  if (absl::Status s = CheckHostPort("listen_address", c.listen_address);
      !s.ok()) {
    return s;
  }
  if (c.metrics_address.empty()) return absl::OkStatus();
  return CheckHostPort("metrics_address", c.metrics_address);
}

// Every interval positive and finite; min_ttl <= default_ttl <= max_ttl.
absl::Status ValidateDurations(const Config& c) {
  const std::pair<absl::string_view, absl::Duration> durations[] = {
      {"database_statement_timeout", c.database_statement_timeout},
      {"limits.default_ttl", c.limits.default_ttl},
      {"limits.min_ttl", c.limits.min_ttl},
      {"limits.max_ttl", c.limits.max_ttl},
      {"expiry_sweep_interval", c.expiry_sweep_interval},
      {"event_poll_interval", c.event_poll_interval},
      {"shutdown_grace", c.shutdown_grace},
      {"stream_overflow_grace", c.stream_overflow_grace},
  };
  for (const auto& [key, d] : durations) {
    if (absl::Status s = CheckDuration(key, d); !s.ok()) return s;
  }
  auto ttl_order = [](absl::string_view a, absl::Duration da,
                      absl::string_view relation, absl::string_view b,
                      absl::Duration db) {
    return absl::InvalidArgumentError(
        absl::StrCat(a, ": ", absl::FormatDuration(da), " is ", relation, " ",
                     b, ": ", absl::FormatDuration(db)));
  };
  const Limits& l = c.limits;
  if (l.min_ttl > l.max_ttl) {
    return ttl_order("limits.min_ttl", l.min_ttl, "greater than",
                     "limits.max_ttl", l.max_ttl);
  }
  if (l.default_ttl < l.min_ttl) {
    return ttl_order("limits.default_ttl", l.default_ttl, "less than",
                     "limits.min_ttl", l.min_ttl);
  }
  if (l.default_ttl > l.max_ttl) {
    return ttl_order("limits.default_ttl", l.default_ttl, "greater than",
                     "limits.max_ttl", l.max_ttl);
  }
  return absl::OkStatus();
}

// Byte limits > 0 with a ceiling on parameters; a positive stream backlog.
absl::Status ValidateSizes(const Config& c) {
  const std::pair<absl::string_view, size_t> bytes[] = {
      {"limits.max_action_bytes", c.limits.max_action_bytes},
      {"limits.max_resource_bytes", c.limits.max_resource_bytes},
      {"limits.max_parameters_bytes", c.limits.max_parameters_bytes},
      {"limits.max_justification_bytes", c.limits.max_justification_bytes},
      {"limits.max_comment_bytes", c.limits.max_comment_bytes},
      {"limits.max_idempotency_key_bytes", c.limits.max_idempotency_key_bytes},
  };
  for (const auto& [key, value] : bytes) {
    if (absl::Status s = CheckBytes(key, value); !s.ok()) return s;
  }
  if (c.limits.max_parameters_bytes > kMaxParametersBytesCeiling) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.max_parameters_bytes: ", c.limits.max_parameters_bytes,
        " exceeds ", kMaxParametersBytesCeiling, " (16 MiB)"));
  }
  if (c.stream_max_backlog < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "stream_max_backlog: ", c.stream_max_backlog, " must be > 0"));
  }
  return absl::OkStatus();
}

// tls all-or-nothing; every configured file readable.
absl::Status ValidateFiles(const Config& c) {
  if (c.tls.enabled()) {
    const std::pair<absl::string_view, const std::string*> files[] = {
        {"tls.cert_file", &c.tls.cert_file},
        {"tls.key_file", &c.tls.key_file},
        {"tls.client_ca_file", &c.tls.client_ca_file},
    };
    std::vector<absl::string_view> missing;
    for (const auto& [key, file] : files) {
      if (file->empty()) missing.push_back(key);
    }
    if (!missing.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tls: set all of cert_file, key_file and client_ca_file, or none; "
          "missing: ",
          absl::StrJoin(missing, ", ")));
    }
    for (const auto& [key, file] : files) {
      if (absl::Status s = CheckReadable(key, *file); !s.ok()) return s;
    }
  }
  for (const auto& [key, path] :
       {std::pair<const char*, const std::string*>{"policy_file",
                                                   &c.policy_file},
        {"fingerprint_key_file", &c.fingerprint_key_file},
        {"signing_key_file", &c.signing_key_file}}) {
    if (path->empty()) continue;
    if (absl::Status s = CheckReadable(key, *path); !s.ok()) return s;
  }
  for (const std::string& path : c.audit_trusted_keys) {
    if (absl::Status s = CheckReadable("audit_trusted_keys", path); !s.ok()) {
      return s;
    }
  }
  if (c.approval_tokens.issuer.empty()) {
    return absl::InvalidArgumentError(
        "approval_tokens.issuer: must not be empty (it is the tokens' iss)");
  }
  for (const RetiredSigningKey& k : c.approval_tokens.retired_keys) {
    if (absl::Status s =
            CheckReadable("approval_tokens.retired_keys", k.public_key_file);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool TlsConfig::enabled() const {
  return !cert_file.empty() || !key_file.empty() || !client_ca_file.empty();
}

absl::StatusOr<Config> ParseConfig(absl::string_view text,
                                   absl::string_view source) {
  const JsonReader reader(source);
  absl::StatusOr<Json> root = reader.Parse(text);
  if (!root.ok()) return root.status();
  Config c;
  if (absl::Status s = ReadConfig(reader, *root, c); !s.ok()) return s;
  return c;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<Config> c = ParseConfig(*text, path);
  if (!c.ok()) return c.status();
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  c->tls.cert_file = Resolve(dir, c->tls.cert_file);
  c->tls.key_file = Resolve(dir, c->tls.key_file);
  c->tls.client_ca_file = Resolve(dir, c->tls.client_ca_file);
  c->auth.tokens_file = Resolve(dir, c->auth.tokens_file);
  c->auth.oidc.jwks_file = Resolve(dir, c->auth.oidc.jwks_file);
  c->auth.oidc.jwks_ca_file = Resolve(dir, c->auth.oidc.jwks_ca_file);
  c->policy_file = Resolve(dir, c->policy_file);
  c->fingerprint_key_file = Resolve(dir, c->fingerprint_key_file);
  c->signing_key_file = Resolve(dir, c->signing_key_file);
  for (std::string& key : c->audit_trusted_keys) key = Resolve(dir, key);
  for (WebhookEndpoint& e : c->webhooks.endpoints) {
    e.ca_file = Resolve(dir, e.ca_file);
  }
  for (RetiredSigningKey& key : c->approval_tokens.retired_keys) {
    key.public_key_file = Resolve(dir, key.public_key_file);
  }
  return c;
}

std::optional<std::string> ProcessGetenv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

void ApplyEnvironment(Config& c, const GetenvFunction& getenv) {
  const std::pair<const char*, std::string*> overrides[] = {
      {"APPROVAL_BROKER_DATABASE_URL", &c.database_url},
      {"APPROVAL_BROKER_LISTEN_ADDRESS", &c.listen_address},
      {"APPROVAL_BROKER_METRICS_ADDRESS", &c.metrics_address},
  };
  for (const auto& [name, field] : overrides) {
    if (std::optional<std::string> value = getenv(name)) {
      *field = std::move(*value);
    }
  }
}

absl::Status ValidateConfig(const Config& c, bool require_database) {
  if (absl::Status s = ValidateEndpoints(c, require_database); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateDurations(c); !s.ok()) return s;
  if (absl::Status s = ValidateSizes(c); !s.ok()) return s;
  if (absl::Status s = ValidateFiles(c); !s.ok()) return s;
  if (absl::Status s = ValidateWebhooksConfig(c.webhooks); !s.ok()) return s;
  return ValidateAuthConfig(c.auth, c.tls.enabled());
}

namespace {

bool SameLimits(const Limits& a, const Limits& b) {
  return a.max_action_bytes == b.max_action_bytes &&
         a.max_resource_bytes == b.max_resource_bytes &&
         a.max_parameters_bytes == b.max_parameters_bytes &&
         a.max_justification_bytes == b.max_justification_bytes &&
         a.max_comment_bytes == b.max_comment_bytes &&
         a.max_idempotency_key_bytes == b.max_idempotency_key_bytes &&
         a.default_ttl == b.default_ttl && a.min_ttl == b.min_ttl &&
         a.max_ttl == b.max_ttl;
}

bool SameEndpoint(const WebhookEndpoint& a, const WebhookEndpoint& b) {
  return a.name == b.name && a.url == b.url && a.event_types == b.event_types &&
         a.secrets == b.secrets && a.ca_file == b.ca_file &&
         a.timeout == b.timeout;
}

bool SameWebhooks(const WebhooksConfig& a, const WebhooksConfig& b) {
  return a.retry_horizon == b.retry_horizon &&
         a.initial_backoff == b.initial_backoff &&
         a.max_backoff == b.max_backoff && a.poll_interval == b.poll_interval &&
         std::equal(a.endpoints.begin(), a.endpoints.end(), b.endpoints.begin(),
                    b.endpoints.end(), SameEndpoint);
}

}  // namespace

std::vector<std::string> RestartOnlyChanges(const Config& running,
                                            const Config& next) {
  const Config& a = running;
  const Config& b = next;
  const std::pair<const char*, bool> settings[] = {
      {"database_url", a.database_url != b.database_url},
      {"database_pool_size", a.database_pool_size != b.database_pool_size},
      {"database_statement_timeout",
       a.database_statement_timeout != b.database_statement_timeout},
      {"database_write_batch",
       a.database_write_batch != b.database_write_batch},
      {"database_write_batch_wait",
       a.database_write_batch_wait != b.database_write_batch_wait},
      {"worker_threads", a.worker_threads != b.worker_threads},
      {"database_terminal_cache_entries",
       a.database_terminal_cache_entries != b.database_terminal_cache_entries},
      {"listen_address", a.listen_address != b.listen_address},
      {"metrics_address", a.metrics_address != b.metrics_address},
      {"tls", a.tls.enabled() != b.tls.enabled()},
      {"limits", !SameLimits(a.limits, b.limits)},
      {"expiry_sweep_interval",
       a.expiry_sweep_interval != b.expiry_sweep_interval},
      {"event_poll_interval", a.event_poll_interval != b.event_poll_interval},
      {"stream_max_backlog", a.stream_max_backlog != b.stream_max_backlog},
      {"stream_overflow_grace",
       a.stream_overflow_grace != b.stream_overflow_grace},
      {"shutdown_grace", a.shutdown_grace != b.shutdown_grace},
      {"fingerprint_key_file",
       a.fingerprint_key_file != b.fingerprint_key_file},
      {"log", a.log.format != b.log.format || a.log.level != b.log.level},
      {"webhooks", !SameWebhooks(a.webhooks, b.webhooks)},
  };
  std::vector<std::string> changed;
  for (const auto& [key, differs] : settings) {
    if (differs) changed.emplace_back(key);
  }
  return changed;
}

}  // namespace approval
