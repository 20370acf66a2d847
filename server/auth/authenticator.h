// Turns the credentials of a gRPC call into a Principal: a bearer token
// (looked up by its SHA-256 in the tokens file, else verified as an OIDC JWT
// when auth.oidc is configured) or a verified mTLS client certificate (an
// X.509-SVID when auth.spiffe is configured). The identity is then mapped to
// its canonical principal (auth.principals) and to the human it acts for
// (an OIDC token's "act" claim, or auth.on_behalf_of).
//
// Tokens file (JSON, `//` comments allowed, read strictly: a key repeated in
// one object or an unknown key is a load error). Tokens are never stored in
// clear: each entry holds the lower-case hex SHA-256 of the token, e.g.
// `printf %s "$TOKEN" | sha256sum`. An identity may have several tokens (for
// rotation); a hash may appear only once.
//
//   {"tokens": [
//     {"sha256": "<64 lower-case hex>", "identity": "agent-demo",
//      "roles": ["agent"]}
//   ]}
//
// Every refusal is UNAUTHENTICATED (bad or missing credentials) or
// PERMISSION_DENIED (authenticated, not allowed), built by refusal.h: a
// message fit for the client, a reason for the metric and a detail for the
// log.
#ifndef APPROVAL_SERVER_AUTH_AUTHENTICATOR_H_
#define APPROVAL_SERVER_AUTH_AUTHENTICATOR_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/auth/auth_config.h"
#include "server/auth/identity_map.h"
#include "server/auth/jwt_verifier.h"
#include "server/auth/principal.h"
#include "server/auth/tokens_file.h"

namespace grpc {
class ServerContextBase;
}  // namespace grpc

namespace approval {

struct AuthenticatorOptions {
  // The current time, for token expiry and certificate validity. Default
  // (empty): absl::Now.
  std::function<absl::Time()> clock;
};

// Immutable after Create except for the cached OIDC key set, which is
// internally synchronized, and Reload, which swaps in a whole new snapshot:
// all methods are thread-safe.
class Authenticator final {
 public:
  // Loads config.tokens_file (if set), copies the mTLS identities, builds the
  // identity map and, with auth.oidc, the JWT verifier (reading jwks_file, or
  // starting to fetch jwks_url in the background: an IdP that is down at
  // start only means tokens are refused until a later reload succeeds).
  // INVALID_ARGUMENT naming the file and the entry on bad content (bad JSON,
  // a key repeated in one object, unknown key, hash not 64 lower-case hex,
  // duplicate hash, empty identity,
  // no roles or an unknown role), when a principal name in auth.principals is
  // also an unlinked token or certificate identity (two callers would
  // silently become one), or when jwks_file is not a usable JWKS;
  // NOT_FOUND / PERMISSION_DENIED when the tokens file cannot be read,
  // UNAVAILABLE when jwks_file cannot be.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(
      const AuthConfig& config, AuthenticatorOptions options = {});

  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Re-reads everything Create reads from `config` (SIGHUP: tokens file,
  // mTLS identities, principals, OIDC settings and key source) into a new
  // snapshot. On success calls that start from now on use it (a revoked
  // token is refused, a new one accepted); a call already started finishes
  // on the snapshot it began with. On failure (as Create) nothing changes
  // and the error is returned. The clock stays the one given to Create.
  absl::Status Reload(const AuthConfig& config);

  // Identity of a gRPC call: the "authorization" metadata if the call sent
  // one (see AuthenticateBearer; a bad token never falls back to the
  // certificate), else the peer certificate (see AuthenticateCertificate).
  // UNAUTHENTICATED "missing credentials: ..." when there is neither.
  //
  // The server must verify client certificates against the client CA
  // (GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY or REQUIRE_..._AND_VERIFY):
  // this method trusts whatever certificate gRPC reports for the peer. An
  // OIDC token signed by a key id not yet held waits for the key set's
  // background reload, at most auth.oidc.unknown_key_wait, on the calling
  // thread; servers use AuthenticateOrDefer instead.
  absl::StatusOr<Principal> Authenticate(
      const grpc::ServerContextBase& ctx) const;

  using Result = absl::StatusOr<Principal>;
  using ResultCallback = std::function<void(Result)>;

  // Authenticate without ever blocking on the IdP: returns the result when
  // it is known now (every token-file, certificate and known-key OIDC
  // caller, and every refusal that needs no key fetch). Otherwise (an OIDC
  // token whose key id is being fetched) returns nullopt and calls `later`
  // exactly once with the result, from a key set thread, when the fetch
  // ends or auth.oidc.unknown_key_wait has passed; the caller is then
  // refused UNAUTHENTICATED (jwt_key_pending). `later` must not block (hand
  // the work to an executor) and must not use `ctx`'s metadata: it gets
  // everything it needs.
  std::optional<Result> AuthenticateOrDefer(const grpc::ServerContextBase& ctx,
                                            ResultCallback later) const;

  // `authorization_value` is the value of the authorization header,
  // "Bearer <token>". A token from the tokens file yields method "token";
  // otherwise, with auth.oidc, a JWT is verified (jwt_verifier.h) and yields
  // method "oidc", identity "oidc:<identity claim>", roles from its groups.
  // A token with an RFC 8693 "act" claim is the actor (act.sub) acting for
  // the subject. UNAUTHENTICATED when the header is malformed, the token is
  // unknown or fails verification, or a claim it needs is malformed; the
  // message never contains the token. PERMISSION_DENIED when it has no roles
  // or its act claim contradicts auth.on_behalf_of.
  absl::StatusOr<Principal> AuthenticateBearer(
      absl::string_view authorization_value) const;
  // AuthenticateBearer without blocking, as AuthenticateOrDefer.
  std::optional<Result> AuthenticateBearerOrDefer(
      absl::string_view authorization_value, ResultCallback later) const;

  // `peer_cert_pem` is the leaf certificate of an already verified peer.
  // Refused (UNAUTHENTICATED) when it does not parse, has a malformed or
  // repeated extension, is outside its validity period, or is not a leaf:
  // basicConstraints CA:TRUE (whatever its keyUsage), or keyUsage
  // keyCertSign or cRLSign (whatever its basicConstraints) make a CA
  // (reason cert_is_ca); a keyUsage without digitalSignature or an
  // extendedKeyUsage without clientAuth is refused too. With auth.spiffe it
  // must be an X.509-SVID leaf: keyUsage present and critical, exactly one
  // URI SAN, a SPIFFE ID with a path in the configured trust domain, which is
  // its identity. Without, its identity is its single URI SAN, else (no URI
  // SAN) its subject CN, and several URI SANs or CNs are refused.
  // PERMISSION_DENIED when the identity has no roles in
  // AuthConfig::mtls_identities. method = "mtls".
  absl::StatusOr<Principal> AuthenticateCertificate(
      absl::string_view peer_cert_pem) const;

  // The human a relay decides for: `relay` (an authenticated relay,
  // Principal::IsRelay) names `platform_user`. The human's principal is the
  // one auth.principals links `platform_user` to; its roles are those of the
  // token and certificate identities linked to the same principal (an OIDC
  // identity's roles depend on a token, so they do not count here); its
  // identity is `platform_user`. PERMISSION_DENIED, with a message a bot can
  // show the person, when `platform_user` is outside the relay's namespace
  // (reason relay_foreign_namespace) or linked to no principal
  // (relay_unlinked_user). Roles are returned as they are: the caller
  // checks the ones it needs.
  absl::StatusOr<Principal> RelayedHuman(const Principal& relay,
                                         absl::string_view platform_user) const;

  // The current snapshot's identity map; valid until the next Reload.
  const IdentityMap& identities() const;

 private:
  Authenticator(TokensBySha256 tokens_by_sha256,
                std::map<std::string, std::set<Role>, std::less<>> mtls_roles,
                const AuthConfig& config, IdentityMap identities,
                std::unique_ptr<JwtVerifier> jwt,
                std::function<absl::Time()> clock);

  std::optional<Result> AuthenticateJwtOrDefer(absl::string_view token,
                                               ResultCallback later) const;
  // The principal of a verified (or refused) OIDC token.
  Result FromJwt(absl::StatusOr<VerifiedJwt> jwt) const;
  // The principal of `identity` authenticated by `method` with `roles`:
  // canonical id, the human it acts for (`token_human` from an act claim,
  // else auth.on_behalf_of) and, when it acts for someone, roles cut down to
  // agent. PERMISSION_DENIED when no role is left or the two sources of the
  // human disagree.
  absl::StatusOr<Principal> Finish(
      absl::string_view method, absl::string_view identity,
      std::set<Role> roles, std::optional<std::string> token_human) const;

  // Keyed by lower-case hex SHA-256 of the token. Comparing hashes rather
  // than tokens keeps lookup timing independent of how much of a guessed
  // token is right.
  const TokensBySha256 tokens_by_sha256_;
  const std::map<std::string, std::set<Role>, std::less<>> mtls_roles_;
  const OidcConfig oidc_;
  const std::string trust_domain_;  // "" = no SVID rules
  const IdentityMap identities_;
  const std::unique_ptr<JwtVerifier> jwt_;  // null without auth.oidc
  const std::function<absl::Time()> clock_;

  // The snapshot calls use: null until the first successful Reload (this
  // object's own members), then the latest reloaded Authenticator.
  std::shared_ptr<const Authenticator> Current() const;

  mutable absl::Mutex reload_mu_;
  std::shared_ptr<const Authenticator> current_ ABSL_GUARDED_BY(reload_mu_);
  // Replaced snapshots, kept until no call holds them any more (freed by a
  // later Reload), so that none is destroyed on its own key set's thread.
  std::vector<std::shared_ptr<const Authenticator>> replaced_
      ABSL_GUARDED_BY(reload_mu_);
};

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_AUTHENTICATOR_H_
