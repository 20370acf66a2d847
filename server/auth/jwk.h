// JSON Web Keys and JWS signature checks (RFC 7515, 7517, 7518) for the two
// algorithms the broker accepts: RS256 (RSA PKCS#1 v1.5 with SHA-256) and
// ES256 (ECDSA on P-256 with SHA-256). Keys are built with OpenSSL from the
// JWK members (n/e, crv/x/y) only: certificates (x5c) and URLs in a JWK are
// never followed. Pure functions and immutable values, thread-safe.
#ifndef APPROVAL_SERVER_AUTH_JWK_H_
#define APPROVAL_SERVER_AUTH_JWK_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
// JWS parts are strict base64url: Base64UrlDecode, Base64UrlEncode.
#include "wire/base64url.h"
// JwsAlgorithm, ParseJwsAlgorithm, IsSafeKeyId: the shared JOSE code.
#include "wire/jws.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace approval {

// One public verification key. Copyable; copies share the OpenSSL key.
class Jwk final {
 public:
  // The only algorithm this key verifies: RS256 for RSA, ES256 for P-256.
  JwsAlgorithm algorithm() const { return algorithm_; }

  // True when `signature` (raw JWS bytes: the RSA signature, or r||s of 64
  // bytes for ES256) is valid over `signing_input`.
  bool Verify(absl::string_view signing_input,
              absl::string_view signature) const;

 private:
  friend struct JwkFactory;
  Jwk(JwsAlgorithm algorithm, std::shared_ptr<EVP_PKEY> key);

  JwsAlgorithm algorithm_;
  std::shared_ptr<EVP_PKEY> key_;
};

// Usable keys by kid, and what was left out.
struct JwkSet {
  std::map<std::string, Jwk, std::less<>> keys;
  // One line per key that was skipped (other key types, curves, uses or
  // algorithms; no kid or an unsafe one; weak or malformed RSA / EC values),
  // for the operator's log.
  std::vector<std::string> skipped;
};

// Parses a JWKS document {"keys": [...]} with the strict JSON reader
// (strict_json.h, no comments). INVALID_ARGUMENT, prefixed with `source`
// ("JWKS file /etc/idp/jwks.json"), when it is not JSON of that shape, when
// a key appears twice in one object, when two usable keys share a kid, or
// when a key holds
// private key material (d, p, q, ... or a symmetric k): such a document must
// not be published, let alone trusted. Keys it cannot use are skipped (see
// JwkSet::skipped), so that an IdP may publish other key types beside ours.
absl::StatusOr<JwkSet> ParseJwks(absl::string_view json,
                                 absl::string_view source = "JWKS");

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_JWK_H_
