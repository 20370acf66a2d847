// Broker configuration: one typed struct, read at start-up from a JSON
// file, overridden by a few environment variables, validated, then passed
// down as `const Config&`. SIGHUP reads the file again (server/main.cc):
// what reloads and what needs a restart is RestartOnlyChanges below.
//
// File layout (JSON; `//` and `/* */` comments allowed). Every key is
// optional and keeps the default shown; unknown keys and wrong JSON types are
// errors so that a typo is never silently ignored. Durations are strings in
// absl::ParseDuration syntax ("500ms", "90s", "1h", "1h30m").
//
//   {
//     "database_url": "postgresql://broker@db/approval",  // required to serve
//     "database_pool_size": 8,
//     "database_statement_timeout": "5s",
//     "database_write_batch": 64,
//     "database_write_batch_wait": "0s",
//     "worker_threads": 64,
//     "database_terminal_cache_entries": 10000,    // 0 turns it off
//     "listen_address": "127.0.0.1:50051",
//     "metrics_address": "127.0.0.1:9464",       // "" turns metrics off
//     "tls": {"cert_file": "", "key_file": "", "client_ca_file": ""},
//     "auth": {
//       "tokens_file": "tokens.json",
//       "mtls_identities": [
//         {"identity": "spiffe://example.org/reviewer/carol",
//          "roles": ["reviewer"]}
//       ],
//       "oidc": {                                   // off while issuer is ""
//         "issuer": "https://idp.example.org/realms/corp",
//         "audience": "approval-broker",
//         "jwks_url": "https://idp.example.org/realms/corp/certs",
//         "jwks_file": "",                          // or a file, not both
//         "jwks_ca_file": "",                       // "" = system CAs
//         "allowed_algorithms": ["RS256", "ES256"],
//         "identity_claim": "sub",
//         "groups_claim": "groups",
//         "group_roles": {"approvers": ["reviewer"], "agents": ["agent"]},
//         "clock_skew": "60s",
//         "jwks_refresh_min_interval": "30s",
//         "jwks_fetch_timeout": "5s",
//         "unknown_key_wait": "2s"
//       },
//       "spiffe": {"trust_domain": "example.org"},  // "" = no SVID rules
//       "principals": [
//         {"principal": "alice",
//          "identities": ["oidc:alice", "spiffe://example.org/user/alice"]}
//       ],
//       "on_behalf_of": [
//         {"agent": "token:deploy-bot", "human": "alice"}
//       ]
//     },
//     "limits": {
//       "max_action_bytes": 128, "max_resource_bytes": 1024,
//       "max_parameters_bytes": 65536, "max_justification_bytes": 4096,
//       "max_comment_bytes": 4096, "max_idempotency_key_bytes": 128,
//       "default_ttl": "1h", "min_ttl": "1s", "max_ttl": "168h"
//     },
//     "expiry_sweep_interval": "1s",
//     "event_poll_interval": "1s",
//     "stream_max_backlog": 10000,
//     "stream_overflow_grace": "5s",
//     "shutdown_grace": "5s",
//     "policy_file": "policy.jsonc",              // "" = built-in default
//     "fingerprint_key_file": "fingerprint.key",  // "" = random per process
//     "signing_key_file": "signing-key.pem",      // required by serve
//     "audit_trusted_keys": ["old-signing-key.pub.pem"],
//     "approval_tokens": {"issuer": "approval-broker", "audience": "",
//       "retired_keys": [{"public_key_file": "old-signing-key.pub.pem",
//                         "verify_until": "2026-12-31T00:00:00Z"}]},
//     "log": {"format": "json", "level": "info"},  // or "text"; debug..error
//     "webhooks": {"endpoints": [...]}   // server/webhook/webhook_config.h
//   }
//
// Relative file paths (tls.*, auth.tokens_file, auth.oidc.jwks_file,
// auth.oidc.jwks_ca_file, webhooks.endpoints[].ca_file, policy_file,
// fingerprint_key_file, signing_key_file, audit_trusted_keys,
// approval_tokens.retired_keys) read through LoadConfigFile are resolved
// against the directory of the config file, so a config and its tokens file
// can move together. ParseConfig leaves them as written.
#ifndef APPROVAL_SERVER_CONFIG_CONFIG_H_
#define APPROVAL_SERVER_CONFIG_CONFIG_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/auth/auth_config.h"
#include "server/domain/validation.h"
#include "server/service/log.h"
#include "server/webhook/webhook_config.h"

namespace approval {

// Server TLS. All three empty (the default): plaintext, bearer tokens only.
// All three set: TLS, and client certificates are requested and verified
// against client_ca_file (a client may still omit one and send a token).
struct TlsConfig {
  std::string cert_file;       // PEM server certificate chain; default ""
  std::string key_file;        // PEM private key of cert_file; default ""
  std::string client_ca_file;  // PEM CA bundle for client certs; default ""

  // True when any of the three files is set; ValidateConfig rejects a
  // partial set.
  bool enabled() const;
};

// A signing key the broker used before signing_key_file: its approval
// tokens still verify until `verify_until` (the rotation overlap), and the
// audit events it sealed verify forever.
struct RetiredSigningKey {
  // SubjectPublicKeyInfo PEM (`openssl pkey -in old.pem -pubout`). Required.
  std::string public_key_file;
  // RFC 3339 time after which GetSigningKey stops publishing the key. Set it
  // past the longest execution window of tokens the key signed. Required.
  absl::Time verify_until = absl::InfinitePast();
};

// Approval tokens (wire/approval_token.h) and the key set that verifies
// them.
struct ApprovalTokenConfig {
  // The tokens' "iss". Default "approval-broker".
  std::string issuer = "approval-broker";
  // The tokens' "aud": the executor that checks them. Default "": no aud.
  std::string audience;
  // Keys still published beside the signing key. Default: none.
  std::vector<RetiredSigningKey> retired_keys;
};

struct Config {
  // libpq connection string or URI. Default "": required to serve.
  std::string database_url;
  // Connections in the pool, 1..256. Default 8.
  int database_pool_size = 8;
  // Server-side statement_timeout of every statement. Default 5s.
  absl::Duration database_statement_timeout = absl::Seconds(5);
  // Group commit (postgres_store.h): most writes applied in one
  // transaction, 1..1024. Default 64.
  int database_write_batch = 64;
  // How long a writer that finds no batch forming waits for others to join,
  // 0..100ms. Default 0: batches form from the writes that arrive while the
  // previous one commits.
  absl::Duration database_write_batch_wait = absl::ZeroDuration();
  // Threads that run unary calls' database work, 1..1024. A writer waiting
  // for its batch holds one, so this bounds the writes in flight (and so the
  // batch size). Waiting streams hold none. Default 64.
  int worker_threads = 64;
  // Terminal approvals kept in memory to answer reads without the database
  // (terminal_cache.h), 0..10000000; 0 turns the cache off. Default 10000.
  int database_terminal_cache_entries = 10000;
  // gRPC listen address "host:port" (port 0: the OS chooses).
  // Default "127.0.0.1:50051".
  std::string listen_address = "127.0.0.1:50051";
  // Prometheus /metrics "host:port". Default "127.0.0.1:9464"; "" turns
  // metrics off.
  std::string metrics_address = "127.0.0.1:9464";
  // Default: plaintext.
  TlsConfig tls;
  // Default: nothing configured, which ValidateConfig rejects.
  AuthConfig auth;
  // Request size and TTL bounds; defaults in server/domain/validation.h.
  Limits limits;
  // How often pending approvals past their expiry are expired. Default 1s.
  absl::Duration expiry_sweep_interval = absl::Seconds(1);
  // How often streams poll the database for events written by other broker
  // processes (events of this process are pushed at once). Default 1s.
  absl::Duration event_poll_interval = absl::Seconds(1);
  // Events queued for one slow WatchApprovals stream before the broker ends
  // that stream (the client resumes from its last event). Default 10000.
  int stream_max_backlog = 10000;
  // How long a stream that fell stream_max_backlog events behind may take to
  // deliver its RESOURCE_EXHAUSTED status; past it (the client stopped
  // reading) the call is cancelled. Default 5s.
  absl::Duration stream_overflow_grace = absl::Seconds(5);
  // On SIGTERM, how long in-flight calls may run before being cancelled.
  // Default 5s.
  absl::Duration shutdown_grace = absl::Seconds(5);
  // The review policy (server/policy/policy.h, deploy/policy.example.jsonc),
  // reloaded on SIGHUP. Default "": the built-in default policy (one
  // approval from any reviewer for everything; all masking detectors).
  std::string policy_file;
  // Secret key of the masked values' fingerprints: a file of at least 32
  // bytes (e.g. `head -c 32 /dev/urandom`). Default "": a random key per
  // process, so fingerprints differ across restarts and replicas.
  std::string fingerprint_key_file;
  // Ed25519 private key (PKCS#8 PEM, `openssl genpkey -algorithm ed25519`)
  // that signs approval tokens and seals every audit event. Required by
  // `serve` (the database must never hold it); every replica on one
  // database uses the same key.
  std::string signing_key_file;
  // Public keys (SubjectPublicKeyInfo PEM files) of signing keys used
  // before: audit events they sealed still verify (key rotation). Default:
  // none.
  std::vector<std::string> audit_trusted_keys;
  // Claims and key rotation of approval tokens.
  ApprovalTokenConfig approval_tokens;
  // The log on stderr (server/service/log.h): "format" "json" (one JSON
  // object per line) or "text" (for terminals); "level" "debug", "info",
  // "warn" or "error", the least severe level written. Default json, info.
  LogOptions log;
  // Signed webhook endpoints (server/webhook/webhook_config.h). Default:
  // none.
  WebhooksConfig webhooks;
};

// Parses the JSON text of a config file; `source` (usually the file name)
// prefixes every error. Missing keys keep their defaults. Returns
// INVALID_ARGUMENT naming the source, the dotted key and the bad value on
// malformed JSON, an unknown key, a wrong JSON type, a bad duration or an
// unknown role, e.g.
//   config.json: limits.max_ttl: "forever" is not a duration (like "90s", "1h")
// Does not check ranges or files: see ValidateConfig.
absl::StatusOr<Config> ParseConfig(absl::string_view text,
                                   absl::string_view source);

// Reads and parses the file at `path` (see ParseConfig) and resolves relative
// tls.*, auth.tokens_file and auth.oidc.jwks_*_file paths against the file's
// directory. NOT_FOUND or
// PERMISSION_DENIED (from errno) when the file cannot be read.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// Looks up one environment variable; nullopt when it is not set.
using GetenvFunction =
    std::function<std::optional<std::string>(const char* name)>;

// The process environment, for ApplyEnvironment in main().
std::optional<std::string> ProcessGetenv(const char* name);

// Overrides `c` from the environment: APPROVAL_BROKER_DATABASE_URL,
// APPROVAL_BROKER_LISTEN_ADDRESS, APPROVAL_BROKER_METRICS_ADDRESS. A variable
// that is set wins over the file even when empty (so
// APPROVAL_BROKER_METRICS_ADDRESS= turns metrics off).
void ApplyEnvironment(Config& c, const GetenvFunction& getenv);

// Checks ranges and cross-field rules (the auth section through
// ValidateAuthConfig, server/auth/auth_config.h): database_url non-empty (only
// when `require_database`), pool size 1..256, durations positive and finite,
// limits.min_ttl <= default_ttl <= max_ttl, byte limits > 0 with
// max_parameters_bytes <= 16 MiB, stream_max_backlog > 0, addresses
// "host:port", tls all-or-nothing with readable files, at least one of
// auth.tokens_file / auth.mtls_identities / auth.oidc (readable file;
// identities unique, non-empty, with roles; mTLS identities need TLS), a
// complete auth.oidc (audience, exactly one JWKS source, https jwks_url,
// known algorithms only, bounded durations), a well-formed spiffe trust
// domain (needs TLS), and principals / on_behalf_of entries that name
// qualified identities, each at most once, and the webhooks section
// (ValidateWebhooksConfig: https URLs only, well-formed secrets). Returns
// INVALID_ARGUMENT naming the dotted key and value of the first violation.
absl::Status ValidateConfig(const Config& c, bool require_database = true);

// The settings a SIGHUP reload does not apply (they need a restart) whose
// value differs between `running` and `next`, as dotted keys in file order:
// database_url, database_pool_size, database_statement_timeout,
// database_write_batch, database_write_batch_wait, worker_threads,
// database_terminal_cache_entries, listen_address, metrics_address,
// "tls" (only TLS turned on or off: the files themselves reload), limits,
// expiry_sweep_interval, event_poll_interval, stream_max_backlog,
// stream_overflow_grace, shutdown_grace, fingerprint_key_file, log,
// webhooks. Everything else (policy_file, auth, tls files, signing_key_file,
// audit_trusted_keys, approval_tokens) reloads.
std::vector<std::string> RestartOnlyChanges(const Config& running,
                                            const Config& next);

}  // namespace approval

#endif  // APPROVAL_SERVER_CONFIG_CONFIG_H_
