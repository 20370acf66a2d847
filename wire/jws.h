// Compact JWS (RFC 7515 section 7.1) parsing, the one JOSE code path of the
// project: the broker's IdP bearer-token verifier (server/auth/
// jwt_verifier.h) and approval-token verification (approval_token.h) both
// read tokens through ParseCompactJws before any key is looked up.
//
// Strict on purpose. A token is exactly three base64url parts without
// padding; the header is a JSON object with no comments and no repeated
// key; "alg" must be in the caller's allow-list (never "none", never an
// HMAC algorithm: none is implemented); "crit" is refused (no extension is
// understood); "kid" is required and must be a safe key id (IsSafeKeyId);
// jku, x5u, x5c and jwk are never read: keys come from configuration only.
//
// Why hand-written: Debian 12's libcjose (0.6.2.1) knows RSA, EC and oct
// keys only (cjose/jwk.h cjose_jwk_kty_t), no OKP/Ed25519 and no EdDSA, so
// it cannot verify the broker's own tokens.
//
// Pure functions, thread-safe.
#ifndef APPROVAL_WIRE_JWS_H_
#define APPROVAL_WIRE_JWS_H_

#include <cstddef>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace approval {

// The signature algorithms implemented anywhere in the project: RS256 and
// ES256 for IdP tokens, EdDSA (Ed25519, RFC 8037) for approval tokens.
enum class JwsAlgorithm { kRs256, kEs256, kEdDsa };

// "RS256" / "ES256" / "EdDSA" exactly (JOSE names are case-sensitive);
// nullopt for anything else, "none" and HS256 included.
std::optional<JwsAlgorithm> ParseJwsAlgorithm(absl::string_view name);
absl::string_view JwsAlgorithmName(JwsAlgorithm alg);

// A key id that is safe to look up and to log: 1..128 characters from
// [A-Za-z0-9._=+-], not containing "..". Key ids with path or SQL characters
// are refused before any lookup.
bool IsSafeKeyId(absl::string_view kid);

// Why ParseCompactJws refused a token, as a stable label ("malformed",
// "alg_none", "alg_not_allowed", "crit_header", "kid_missing",
// "kid_invalid", "wrong_type"); callers prefix it ("jwt_" for IdP tokens).
struct JwsRefusal {
  std::string reason;
  std::string detail;  // for an operator's log; may quote header values
};
// The refusal carried by a ParseCompactJws / ParseJwsObject error status;
// {"malformed", ""} for any other status.
JwsRefusal JwsRefusalOf(const absl::Status& status);

struct JwsParseOptions {
  // Most bytes of the whole token. Required (0 refuses everything).
  size_t max_bytes = 0;
  // Algorithms accepted, whatever the token claims. Required.
  std::set<JwsAlgorithm> allowed_algorithms;
  // When not empty, the header's "typ" must be exactly this.
  std::string required_type;
};

// A compact JWS whose shape and header passed; its signature is NOT yet
// checked and its payload not yet read.
struct CompactJws {
  JwsAlgorithm alg = JwsAlgorithm::kRs256;
  std::string alg_name;
  std::string kid;
  std::string signing_input;  // "<header>.<payload>" as sent: what is signed
  std::string payload_b64;
  std::string signature;  // decoded, not empty
};

// Parses `token`. UNAUTHENTICATED with a message naming the failed check
// (never echoing the token) and a JwsRefusal (JwsRefusalOf) otherwise.
absl::StatusOr<CompactJws> ParseCompactJws(absl::string_view token,
                                           const JwsParseOptions& options);

// The payload of `jws` (call after the signature verified) as a strict JSON
// object; `what` names it in errors ("JWT claims"). UNAUTHENTICATED with
// reason "malformed" when it is not base64url, not JSON, has a repeated key
// or is not an object.
absl::StatusOr<nlohmann::ordered_json> JwsPayloadObject(const CompactJws& jws,
                                                        absl::string_view what);

// A compact JWS from its parts: base64url of `header_json` and
// `payload_json`, and of the raw `signature` over SigningInput(...).
std::string JwsSigningInput(absl::string_view header_json,
                            absl::string_view payload_json);
std::string CompactJwsOf(absl::string_view signing_input,
                         absl::string_view signature);

}  // namespace approval

#endif  // APPROVAL_WIRE_JWS_H_
