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
// Key rotation: a kid that is not in the cached set triggers one reload of
// the JWKS, at most once per refresh interval for the whole verifier; if the
// kid is still unknown (or the reload failed) the token is refused. A failed
// reload keeps the previous keys.
#ifndef APPROVAL_SERVER_AUTH_JWT_VERIFIER_H_
#define APPROVAL_SERVER_AUTH_JWT_VERIFIER_H_

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/auth/jwk.h"
#include "server/auth/jwks_source.h"

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
  // Least time between two key set loads. Default 30s.
  absl::Duration refresh_min_interval = absl::Seconds(30);
  // Create fails when the first load fails (a local file); otherwise the
  // verifier starts without keys and tries again on the first token (a URL
  // whose server may be down for a moment). Default true.
  bool initial_load_required = true;
};

struct VerifiedJwt {
  std::string kid;
  JwsAlgorithm algorithm = JwsAlgorithm::kRs256;
  nlohmann::json claims;  // the payload, a JSON object
};

// Thread-safe.
class JwtVerifier final {
 public:
  // Loads the key set once from `source`. INVALID_ARGUMENT on empty issuer,
  // audience or allowed algorithms; when options.initial_load_required, the
  // load's error (UNAVAILABLE from the source, INVALID_ARGUMENT from the
  // JWKS parser). `clock` gives the current time (tests inject one).
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(
      JwtVerifierOptions options, std::unique_ptr<JwksSource> source,
      std::function<absl::Time()> clock);

  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // Verifies `token`. UNAUTHENTICATED for every failure, with a message
  // that names the failed check without echoing the token, a refusal reason
  // (jwt_malformed, jwt_alg_none, jwt_alg_not_allowed, jwt_crit_header,
  // jwt_kid_missing, jwt_kid_invalid, jwt_unknown_kid, jwt_key_mismatch,
  // jwt_bad_signature, jwt_wrong_issuer, jwt_wrong_audience, jwt_no_expiry,
  // jwt_expired, jwt_not_yet_valid) and a detail for the log (refusal.h).
  // May block on one key set load (see the class comment).
  absl::StatusOr<VerifiedJwt> Verify(absl::string_view token) const;

  // Key ids currently trusted, for tests and diagnostics.
  std::set<std::string> KeyIds() const;

 private:
  JwtVerifier(JwtVerifierOptions options, std::unique_ptr<JwksSource> source,
              std::function<absl::Time()> clock);

  // Replaces the key set from the source. Caller holds load_mu_.
  absl::Status Load() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(load_mu_);
  // The key for `kid`, reloading the set once if allowed. nullopt (with
  // `why` set for the log) when it stays unknown.
  std::optional<Jwk> FindKey(const std::string& kid, std::string& why) const;

  const JwtVerifierOptions options_;
  const std::unique_ptr<JwksSource> source_;
  const std::function<absl::Time()> clock_;

  // Serializes loads; taken before mu_, never while holding it.
  mutable absl::Mutex load_mu_;
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(load_mu_);
  mutable std::shared_ptr<const JwkSet> keys_ ABSL_GUARDED_BY(mu_);
  mutable std::optional<absl::Time> last_load_ ABSL_GUARDED_BY(mu_);
  mutable std::string last_load_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_JWT_VERIFIER_H_
