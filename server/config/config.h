// Broker configuration: one typed struct, read once at start-up from a JSON
// file, overridden by a few environment variables, validated, then passed
// down as `const Config&`.
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
//     "listen_address": "127.0.0.1:50051",
//     "metrics_address": "127.0.0.1:9464",       // "" turns metrics off
//     "tls": {"cert_file": "", "key_file": "", "client_ca_file": ""},
//     "auth": {
//       "tokens_file": "tokens.json",
//       "mtls_identities": [
//         {"identity": "spiffe://example.org/reviewer/carol",
//          "roles": ["reviewer"]}
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
//     "shutdown_grace": "5s"
//   }
//
// Relative file paths (tls.*, auth.tokens_file) read through LoadConfigFile
// are resolved against the directory of the config file, so a config and its
// tokens file can move together. ParseConfig leaves them as written.
#ifndef APPROVAL_SERVER_CONFIG_CONFIG_H_
#define APPROVAL_SERVER_CONFIG_CONFIG_H_

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/auth/principal.h"
#include "server/domain/rules.h"

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

// A client-certificate identity (URI SAN, else subject CN) and its roles.
struct MtlsIdentity {
  std::string identity;
  std::set<Role> roles;
};

// Who may call. At least one of the two must be configured.
struct AuthConfig {
  // Bearer tokens: JSON file of SHA-256 hashes, identities and roles (see
  // server/auth/authenticator.h). Default "": bearer tokens are rejected.
  std::string tokens_file;
  // Roles of verified client-certificate identities. Default: none.
  std::vector<MtlsIdentity> mtls_identities;
};

struct Config {
  // libpq connection string or URI. Default "": required to serve.
  std::string database_url;
  // Connections in the pool, 1..256. Default 8.
  int database_pool_size = 8;
  // Server-side statement_timeout of every statement. Default 5s.
  absl::Duration database_statement_timeout = absl::Seconds(5);
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
  // Request size and TTL bounds; defaults in server/domain/rules.h.
  Limits limits;
  // How often pending approvals past their expiry are expired. Default 1s.
  absl::Duration expiry_sweep_interval = absl::Seconds(1);
  // How often streams poll the database for events written by other broker
  // processes (events of this process are pushed at once). Default 1s.
  absl::Duration event_poll_interval = absl::Seconds(1);
  // Events queued for one slow WatchApprovals stream before the broker ends
  // that stream (the client resumes from its last event). Default 10000.
  int stream_max_backlog = 10000;
  // On SIGTERM, how long in-flight calls may run before being cancelled.
  // Default 5s.
  absl::Duration shutdown_grace = absl::Seconds(5);
};

// Parses the JSON text of a config file; `source` (usually the file name)
// prefixes every error. Missing keys keep their defaults. Returns
// INVALID_ARGUMENT naming the source, the dotted key and the bad value on
// malformed JSON, an unknown key, a wrong JSON type, a bad duration or an
// unknown role, e.g.
//   config.json: limits.max_ttl: "forever" is not a duration (like "90s", "1h")
// Does not check ranges or files: see ValidateConfig.
absl::StatusOr<Config> ParseConfig(std::string_view text,
                                   std::string_view source);

// Reads and parses the file at `path` (see ParseConfig) and resolves relative
// tls.* and auth.tokens_file paths against the file's directory. NOT_FOUND or
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

// Checks ranges and cross-field rules: database_url non-empty (only when
// `require_database`), pool size 1..256, durations positive and finite,
// limits.min_ttl <= default_ttl <= max_ttl, byte limits > 0 with
// max_parameters_bytes <= 16 MiB, stream_max_backlog > 0, addresses
// "host:port", tls all-or-nothing with readable files, at least one of
// auth.tokens_file / auth.mtls_identities (readable file; identities unique,
// non-empty, with roles; mTLS identities need TLS). Returns INVALID_ARGUMENT
// naming the dotted key and value of the first violation.
absl::Status ValidateConfig(const Config& c, bool require_database = true);

}  // namespace approval

#endif  // APPROVAL_SERVER_CONFIG_CONFIG_H_
