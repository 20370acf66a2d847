// Turns the credentials of a gRPC call into a Principal: a bearer token
// (looked up by its SHA-256) or a verified mTLS client certificate.
//
// Tokens file (JSON, `//` comments allowed). Tokens are never stored in
// clear: each entry holds the lower-case hex SHA-256 of the token, e.g.
// `printf %s "$TOKEN" | sha256sum`. An identity may have several tokens (for
// rotation); a hash may appear only once.
//
//   {"tokens": [
//     {"sha256": "<64 lower-case hex>", "identity": "agent-demo",
//      "roles": ["agent"]}
//   ]}
#ifndef APPROVAL_SERVER_AUTH_AUTHENTICATOR_H_
#define APPROVAL_SERVER_AUTH_AUTHENTICATOR_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/auth/principal.h"
#include "server/config/config.h"

namespace grpc {
class ServerContextBase;
}  // namespace grpc

namespace approval {

// Immutable after Create: all methods are const and thread-safe.
class Authenticator final {
 public:
  // Loads config.tokens_file (if set) and copies the mTLS identities.
  // INVALID_ARGUMENT naming the file and the entry on bad content (bad JSON,
  // unknown key, hash not 64 lower-case hex, duplicate hash, empty identity,
  // no roles or an unknown role); NOT_FOUND / PERMISSION_DENIED when the file
  // cannot be read.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(
      const AuthConfig& config);

  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Identity of a gRPC call: the "authorization" metadata if the call sent
  // one (see AuthenticateBearer; a bad token never falls back to the
  // certificate), else the peer certificate (see AuthenticateCertificate).
  // UNAUTHENTICATED "missing credentials: ..." when there is neither.
  //
  // The server must verify client certificates against the client CA
  // (GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY or REQUIRE_..._AND_VERIFY):
  // this method trusts whatever certificate gRPC reports for the peer.
  absl::StatusOr<Principal> Authenticate(
      const grpc::ServerContextBase& ctx) const;

  // `authorization_value` is the value of the authorization header,
  // "Bearer <token>". UNAUTHENTICATED when it is malformed or the token is
  // unknown; the message never contains the token. method = "token".
  absl::StatusOr<Principal> AuthenticateBearer(
      std::string_view authorization_value) const;

  // `peer_cert_pem` is the leaf certificate of an already verified peer. Its
  // identity is its single URI SAN, else (no URI SAN) its subject CN.
  // UNAUTHENTICATED when it does not parse, has several URI SANs or CNs, or
  // has no identity; PERMISSION_DENIED when the identity has no roles in
  // AuthConfig::mtls_identities. method = "mtls".
  absl::StatusOr<Principal> AuthenticateCertificate(
      std::string_view peer_cert_pem) const;

 private:
  struct Entry {
    std::string identity;
    std::set<Role> roles;
  };

  Authenticator(std::map<std::string, Entry, std::less<>> tokens_by_sha256,
                std::map<std::string, std::set<Role>, std::less<>> mtls_roles);

  // Keyed by lower-case hex SHA-256 of the token. Comparing hashes rather
  // than tokens keeps lookup timing independent of how much of a guessed
  // token is right.
  const std::map<std::string, Entry, std::less<>> tokens_by_sha256_;
  const std::map<std::string, std::set<Role>, std::less<>> mtls_roles_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_AUTHENTICATOR_H_
