// Who may call the broker: the "auth" section of the broker config (see
// server/config/config.h for the whole file), how it is read from JSON and
// how it is validated. Owned by auth/ so that the authenticator needs nothing
// from config/; config/ composes this section with the others.
#ifndef APPROVAL_SERVER_AUTH_AUTH_CONFIG_H_
#define APPROVAL_SERVER_AUTH_AUTH_CONFIG_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/auth/principal.h"
#include "server/common/json_reader.h"

namespace approval {

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

// A relay: a bot (any authenticated identity, qualified) that decides as the
// humans of one platform namespace, e.g. {"identity": "token:slack-bot",
// "namespace": "slack:T0123"}. It names the human by a platform identity
// that auth.principals links to the human's principal.
struct Relay {
  std::string identity;
  std::string platform_namespace;  // key "namespace"
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
  // Identities linked to one canonical principal: qualified identities, and
  // platform identities (principal.h, e.g. "slack:T0123/U0456") by which
  // relays name the human. An identity listed nowhere is its own principal
  // (token and certificate identities as written, OIDC identities as
  // "oidc:<value>"). Default: none.
  std::vector<PrincipalMapping> principals;
  // Agents that act for a human. An OIDC token may also say so itself with
  // an RFC 8693 "act" claim. A caller acting for a human has at most the
  // agent role, and that human may not decide its requests. Default: none.
  std::vector<OnBehalfOf> on_behalf_of;
  // Bots that decide for linked humans of a platform namespace. Default:
  // none.
  std::vector<Relay> relays;
};

// Reads the "auth" object (layout in server/config/config.h) into `out`
// through `reader`: unknown keys, wrong types and unknown roles are errors
// naming the path, e.g. "auth.oidc.group_roles.admins[0]". Does not check
// ranges or files: see ValidateAuthConfig.
JsonReader::Read ReadAuthConfig(const JsonReader& reader, AuthConfig* out);

// Reads an array of role names ("agent", "reviewer", "admin", "observer")
// into `out`; an empty array is read as no roles. Shared by the config and
// the tokens file.
JsonReader::Read ReadRoles(const JsonReader& reader, std::set<Role>* out);

// Checks `a` (paths named from "auth."): at least one of tokens_file,
// mtls_identities and oidc (readable file; identities unique, non-empty,
// with roles; mTLS identities and spiffe need `tls_enabled`), a complete
// oidc (audience, exactly one JWKS source, https jwks_url, known algorithms
// only, bounded durations), a well-formed spiffe trust domain, and
// principals / on_behalf_of entries that name qualified (principals: or
// platform) identities, each at most once, and relays naming a qualified
// identity (at most once, not in on_behalf_of) and a platform namespace.
// INVALID_ARGUMENT naming the dotted key and value of the first
// violation.
absl::Status ValidateAuthConfig(const AuthConfig& a, bool tls_enabled);

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_AUTH_CONFIG_H_
