// JwtVerifier: checks an OIDC bearer token (a JWS-signed JWT in compact
// form) against the configured issuer, audience, algorithms and key set.
//
// What decides trust is the configuration, never the token: the algorithm
// must be one of the allowed ones (never "none", never HMAC), the key is
// looked up only by kid in the configured JWKS (jku, x5u, x5c and jwk
// headers are ignored), and its type must match the algorithm. The
// signature is checked before any claim is read. Then iss must equal the
// issuer, aud must contain the audience, exp must be present and not past,
// nbf (if present) not in the future, both within the clock skew.
//
// The token's shape and JOSE header are checked by the project's one JOSE
// parser (wire/jws.h, shared with approval-token verification); header and
// claims are read with the strict JSON reader (strict_json.h): a key that
// appears twice ("alg", "sub", "aud", ...) refuses the token.
//
// Key rotation: a kid that is not in the cached set triggers one reload of
// the JWKS in the background (jwks_cache.h), at most one at a time and at
// most once per refresh interval, counted from the end of the previous
// load; the token waits for it at most unknown_key_wait, holding no thread.
// If the kid is still unknown (or the reload failed, or is still running
// when the wait ends) the token is refused. A failed reload keeps the
// previous keys. Tokens signed by a held key never wait.
#ifndef APPROVAL_SERVER_AUTH_JWT_VERIFIER_H_
#define APPROVAL_SERVER_AUTH_JWT_VERIFIER_H_

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/auth/jwk.h"
#include "server/auth/jwks_cache.h"
#include "server/auth/jwks_source.h"
#include "wire/jws.h"

namespace approval {

// Most bytes of a token (header, payload and signature, encoded).
inline constexpr size_t kMaxJwtBytes = 16 * 1024;

struct JwtVerifierOptions {
  std::string issuer;    // exact "iss"; required
  std::string audience;  // must be in "aud"; required
  // Accepted algorithms. Default: both supported ones.
  std::set<JwsAlgorithm> allowed_algorithms = {JwsAlgorithm::kRs256,
                                               JwsAlgorithm::kEs256};
  // Tolerance on exp and nbf. Default 60s.
  absl::Duration clock_skew = absl::Seconds(60);
  // Least time from the end of one key set load to the start of the next.
  // Default 30s.
  absl::Duration refresh_min_interval = absl::Seconds(30);
  // Longest a token with an unknown kid waits for a key set load before it
  // is refused. Default 2s.
  absl::Duration unknown_key_wait = absl::Seconds(2);
  // Create fails when the first load fails (a local file); otherwise the
  // first load runs in the background and the verifier starts without keys
  // (a URL whose server may be down for a moment). Default true.
  bool initial_load_required = true;
};

struct VerifiedJwt {
  std::string kid;
  JwsAlgorithm algorithm = JwsAlgorithm::kRs256;
  nlohmann::ordered_json claims;  // the payload, a JSON object
};

// Thread-safe.
class JwtVerifier final {
 public:
  using Result = absl::StatusOr<VerifiedJwt>;
  using ResultCallback = std::function<void(Result)>;

  // Loads the key set once from `source` (in the background unless
  // options.initial_load_required). INVALID_ARGUMENT on empty issuer,
  // audience or allowed algorithms; when options.initial_load_required, the
  // load's error (UNAVAILABLE from the source, INVALID_ARGUMENT from the
  // JWKS parser). `clock` gives the current time (tests inject one).
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(
      JwtVerifierOptions options, std::unique_ptr<JwksSource> source,
      std::function<absl::Time()> clock);

  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // Verifies `token` without ever blocking on the key source. Returns the
  // result when it is known now: the key is held, or the token is refused
  // before a key is needed or without waiting for one. Otherwise returns
  // nullopt and calls `later` exactly once with the result, from a key set
  // thread, when the load ends or unknown_key_wait has passed. `later` must
  // not block.
  //
  // Failures are UNAUTHENTICATED, with a message that names the failed check
  // without echoing the token, a refusal reason (jwt_malformed,
  // jwt_alg_none, jwt_alg_not_allowed, jwt_crit_header, jwt_kid_missing,
  // jwt_kid_invalid, jwt_unknown_kid, jwt_key_pending, jwt_key_mismatch,
  // jwt_bad_signature, jwt_wrong_issuer, jwt_wrong_audience, jwt_no_expiry,
  // jwt_expired, jwt_not_yet_valid) and a detail for the log (refusal.h).
  std::optional<Result> VerifyOrDefer(absl::string_view token,
                                      ResultCallback later) const;

  // VerifyOrDefer, waiting for a deferred result on the calling thread (at
  // most unknown_key_wait). For tools and tests; servers use VerifyOrDefer.
  Result Verify(absl::string_view token) const;

  // Key ids currently trusted, for tests and diagnostics.
  std::set<std::string> KeyIds() const;

 private:
  // A token's parts that need no key to check (wire/jws.h).
  using Parsed = CompactJws;

  JwtVerifier(JwtVerifierOptions options, std::unique_ptr<JwksCache> keys,
              std::function<absl::Time()> clock);

  // Everything that needs no key: size, shape, header, alg, kid, signature
  // encoding.
  absl::StatusOr<Parsed> Parse(absl::string_view token) const;
  // The checks once the key lookup has answered.
  Result Finish(const Parsed& parsed, const JwksCache::Lookup& lookup) const;

  const JwtVerifierOptions options_;
  const std::function<absl::Time()> clock_;
  // Last, so that callbacks it answers while shutting down find the rest.
  const std::unique_ptr<JwksCache> keys_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_JWT_VERIFIER_H_
