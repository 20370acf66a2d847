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
//     "audit_trusted_keys": ["old-signing-key.pub.pem"]
//   }
//
// Relative file paths (tls.*, auth.tokens_file, auth.oidc.jwks_file,
// auth.oidc.jwks_ca_file, policy_file, fingerprint_key_file,
// signing_key_file, audit_trusted_keys) read through LoadConfigFile
// are resolved against the directory of the config file, so a config and its
// tokens file can move together. ParseConfig leaves them as written.
#ifndef APPROVAL_SERVER_CONFIG_CONFIG_H_
#define APPROVAL_SERVER_CONFIG_CONFIG_H_

#include <functional>
#include <map>
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

// OpenID Connect: bearer tokens that are JWTs signed by the organisation's
// IdP. Off while `issuer` is "" (the default). The configuration, never the
// token, decides which keys and algorithms are trusted: a token's jku, x5u,
// x5c and jwk headers are ignored.
struct OidcConfig {
  // The exact "iss" of every accepted token. Default "": OIDC off.
  std::string issuer;
  // A value the token's "aud" (string or array) must contain. Required with
  // issuer. Default "".
  std::string audience;
  // Where the IdP's signing keys (a JWKS document) come from: exactly one of
  // jwks_file (a local file) and jwks_url (https:// only). Either is read at
  // start and again, in the background, at most once per
  // jwks_refresh_min_interval (counted from the end of the previous read),
  // when a token names a key id it does not hold (key rotation needs no
  // restart).
  // Defaults "".
  std::string jwks_file;
  std::string jwks_url;
  // PEM CA bundle that jwks_url's server certificate must chain to. Default
  // "": the system's trusted CAs.
  std::string jwks_ca_file;
  // Signature algorithms accepted; only "RS256" and "ES256" exist here
  // ("none" and HMAC algorithms are refused at load). Default both.
  std::vector<std::string> allowed_algorithms = {"RS256", "ES256"};
  // Claim naming the caller; its value v is the identity "oidc:v". Default
  // "sub".
  std::string identity_claim = "sub";
  // Claim holding the caller's groups (array of strings, or one string).
  // Default "": tokens carry no groups.
  std::string groups_claim;
  // Roles granted by each group; a token's roles are the union over its
  // groups. Default: none, so OIDC callers have no roles.
  std::map<std::string, std::set<Role>> group_roles;
  // Tolerance on exp and nbf, 0..5m. Default 60s.
  absl::Duration clock_skew = absl::Seconds(60);
  // Least time from the end of one JWKS load to the start of a reload
  // caused by an unknown key id. Default 30s.
  absl::Duration jwks_refresh_min_interval = absl::Seconds(30);
  // Bound on one jwks_url fetch, at most 60s. Default 5s.
  absl::Duration jwks_fetch_timeout = absl::Seconds(5);
  // Longest a call whose token names an unknown key id waits for the JWKS
  // reload it started (or found running) before it is refused
  // UNAUTHENTICATED; 0..60s, 0 = never wait. Reloads run in the background,
  // one at a time: no other caller ever waits for one. Default 2s.
  absl::Duration unknown_key_wait = absl::Seconds(2);

  bool enabled() const { return !issuer.empty(); }
};

// SPIFFE X.509-SVIDs as client certificates. Off while trust_domain is ""
// (the default): certificates are then identified as before (single URI SAN,
// else subject CN). On: every client certificate must be an X.509-SVID of
// this trust domain — exactly one URI SAN, a spiffe:// ID, not a CA — and
// its SPIFFE ID needs roles in mtls_identities. Needs tls.
struct SpiffeConfig {
  std::string trust_domain;  // e.g. "example.org"; default ""

  bool enabled() const { return !trust_domain.empty(); }
};

// Identities (qualified, see server/auth/principal.h) that are one person or
// workload: they share the canonical principal `principal`.
struct PrincipalMapping {
  std::string principal;
  std::vector<std::string> identities;
};

// The identity `agent` (qualified) always acts for the human whose canonical
// principal is `human`.
struct OnBehalfOf {
  std::string agent;
  std::string human;
};

// Who may call. At least one of tokens_file, mtls_identities and oidc must
// be configured.
struct AuthConfig {
  // Bearer tokens: JSON file of SHA-256 hashes, identities and roles (see
  // server/auth/authenticator.h). Default "": bearer tokens are rejected.
  std::string tokens_file;
  // Roles of verified client-certificate identities. Default: none.
  std::vector<MtlsIdentity> mtls_identities;
  // Default: off.
  OidcConfig oidc;
  // Default: off.
  SpiffeConfig spiffe;
  // Identities linked to one canonical principal. An identity listed nowhere
  // is its own principal (token and certificate identities as written, OIDC
  // identities as "oidc:<value>"). Default: none.
  std::vector<PrincipalMapping> principals;
  // Agents that act for a human. An OIDC token may also say so itself with
  // an RFC 8693 "act" claim. A caller acting for a human has at most the
  // agent role, and that human may not decide its requests. Default: none.
  std::vector<OnBehalfOf> on_behalf_of;
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

// Checks ranges and cross-field rules: database_url non-empty (only when
// `require_database`), pool size 1..256, durations positive and finite,
// limits.min_ttl <= default_ttl <= max_ttl, byte limits > 0 with
// max_parameters_bytes <= 16 MiB, stream_max_backlog > 0, addresses
// "host:port", tls all-or-nothing with readable files, at least one of
// auth.tokens_file / auth.mtls_identities / auth.oidc (readable file;
// identities unique, non-empty, with roles; mTLS identities need TLS), a
// complete auth.oidc (audience, exactly one JWKS source, https jwks_url,
// known algorithms only, bounded durations), a well-formed spiffe trust
// domain (needs TLS), and principals / on_behalf_of entries that name
// qualified identities, each at most once. Returns INVALID_ARGUMENT naming
// the dotted key and value of the first violation.
absl::Status ValidateConfig(const Config& c, bool require_database = true);

}  // namespace approval

#endif  // APPROVAL_SERVER_CONFIG_CONFIG_H_
