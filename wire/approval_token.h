// Approval tokens: the broker's signature over what was approved, as a
// standard compact JWS (RFC 7515) / JWT (RFC 7519) that any JOSE library
// with EdDSA (RFC 8037) verifies.
//
//   header  {"alg":"EdDSA","kid":"<key id>","typ":"approval+jwt"}
//   claims  {"iss": issuer, "aud": audience (only when configured),
//            "iat": approved_at, "nbf": not_before, "exp": not_after,
//            "approval_id", "action", "action_digest" (lower-case hex
//            SHA-256 of the canonical action, wire/canonical.h), "rule",
//            "approvers": [sorted principals; [] when a rule
//            auto-approved]}
//
// Times are NumericDate (seconds since the epoch), with a microsecond
// fraction when they have one. The signature is Ed25519 over the ASCII
// "<base64url header>.<base64url claims>" (JWS signing input). The key id is
// the first 16 lower-case hex characters of SHA-256 over the raw public key
// (wire/ed25519.h); verifiers pick the key by kid from the broker's key set
// (ApprovalJwks: JWKS of OKP/Ed25519 keys, GetSigningKey.jwks_json).
//
// This file is the token's format and its verification, shared by the
// broker, the client library and approvalctl; signing is the broker's
// (server/domain/token_signer.h). Pure functions, thread-safe.
#ifndef APPROVAL_WIRE_APPROVAL_TOKEN_H_
#define APPROVAL_WIRE_APPROVAL_TOKEN_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "wire/ed25519.h"

namespace approval {

// The JWS "typ" of approval tokens.
inline constexpr char kApprovalTokenType[] = "approval+jwt";
// The default "iss" of a broker's tokens.
inline constexpr char kDefaultTokenIssuer[] = "approval-broker";

struct ApprovalClaims {
  std::string approval_id;
  std::string action;
  std::string action_digest;  // lower-case hex SHA-256 (wire/canonical.h)
  // Canonical principals who approved, sorted; empty when a rule
  // auto-approved.
  std::vector<std::string> approvers;
  std::string rule;        // the policy rule that applied
  absl::Time approved_at;  // iat
  // Execution is allowed in [not_before, not_after) (nbf, exp).
  absl::Time not_before;
  absl::Time not_after;
  std::string key_id;    // which broker key signed it (the header's kid)
  std::string issuer;    // iss
  std::string audience;  // aud; "" when the token has none
};

// The claims JSON a token carries for `claims` (key_id is not a claim: it
// is the header's kid).
std::string ApprovalTokenPayload(const ApprovalClaims& claims);
// The JWS signing input for `claims` under key `kid`: base64url(header) "."
// base64url(ApprovalTokenPayload(claims)).
std::string ApprovalTokenSigningInput(const ApprovalClaims& claims,
                                      absl::string_view kid);
// The compact token of a signing input and its 64-byte Ed25519 signature.
std::string ApprovalTokenOf(absl::string_view signing_input,
                            absl::string_view signature);

// The public keys that verify approval tokens, by key id. Immutable.
struct ApprovalKeySet {
  std::map<std::string, Ed25519PublicKey, std::less<>> keys;
};

// `keys` as a JWKS document:
// {"keys":[{"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"alg":"EdDSA",
// "use":"sig"}, ...]} in the given order.
std::string ApprovalJwks(const std::vector<Ed25519PublicKey>& keys);

// Parses verification keys: either one SubjectPublicKeyInfo PEM Ed25519 key
// or a JWKS document (text starting with '{') as ApprovalJwks writes it.
// JWKS keys of other types (kty not OKP) are skipped; an OKP key must be
// Ed25519 with a 32-byte x, no private member (d), "use" sig and "alg"
// EdDSA if present, and a kid equal to its key id. INVALID_ARGUMENT naming
// the problem otherwise, or when no key is left.
absl::StatusOr<ApprovalKeySet> ParseApprovalKeys(absl::string_view keys);

// Verifies `token` against `keys` (the key named by the header's kid) and
// returns its claims. UNAUTHENTICATED with a message saying what failed:
// malformed (not three base64url parts without padding, a header that is
// not strict JSON, too large), alg not EdDSA (none and HS256 included),
// crit present, typ not approval+jwt, kid missing or not in `keys`, bad
// signature, claims missing or of the wrong type. Does not look at the time
// window, the digest or the audience: see CheckClaims.
absl::StatusOr<ApprovalClaims> VerifyApprovalToken(absl::string_view token,
                                                   const ApprovalKeySet& keys);
// The same with keys as ParseApprovalKeys reads them (PEM or JWKS);
// INVALID_ARGUMENT when they do not parse.
absl::StatusOr<ApprovalClaims> VerifyApprovalToken(absl::string_view token,
                                                   absl::string_view keys);

// OK when `claims` approve exactly `action_digest` (and `approval_id`, unless
// empty) at `now`: PERMISSION_DENIED naming the mismatch, or
// FAILED_PRECONDITION when now is outside [not_before, not_after).
absl::Status CheckClaims(const ApprovalClaims& claims,
                         absl::string_view action_digest,
                         absl::string_view approval_id, absl::Time now);

}  // namespace approval

#endif  // APPROVAL_WIRE_APPROVAL_TOKEN_H_
