#include "server/auth/jwt_verifier.h"

#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "server/auth/refusal.h"
#include "server/common/strict_json.h"

namespace approval {
namespace {

using Json = nlohmann::ordered_json;

// NumericDate bounds: after 1970 and before the year 5138.
constexpr double kMaxNumericDate = 1e11;

absl::Status Refuse(absl::string_view reason, absl::string_view what,
                    absl::string_view detail = "") {
  return Unauthenticated(reason, absl::StrCat("bearer token refused: ", what),
                         detail);
}

// A refusal of the shared JOSE parser (wire/jws.h) as this verifier's:
// the same message, its reason prefixed "jwt_".
absl::Status RefuseJws(const absl::Status& status) {
  const JwsRefusal refusal = JwsRefusalOf(status);
  return Refuse(absl::StrCat("jwt_", refusal.reason), status.message(),
                refusal.detail);
}

// A NumericDate claim; nullopt when absent, INVALID when not a number in
// range.
struct TimeClaim {
  bool present = false;
  bool valid = false;
  absl::Time time;
};

TimeClaim ReadTime(const Json& claims, const char* name) {
  TimeClaim out;
  const auto it = claims.find(name);
  if (it == claims.end()) return out;
  out.present = true;
  if (!it->is_number()) return out;
  const double seconds = it->get<double>();
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxNumericDate) {
    return out;
  }
  out.valid = true;
  out.time = absl::FromUnixMicros(static_cast<int64_t>(seconds * 1e6));
  return out;
}

std::string Timestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// The key `lookup` found for `kid` exists, has the token's algorithm, and
// verifies `signature` over `signing_input`.
absl::Status CheckSignature(absl::string_view signing_input,
                            const std::string& signature, JwsAlgorithm alg,
                            const std::string& alg_name, const std::string& kid,
                            const JwksCache::Lookup& lookup) {
  if (!lookup.key && lookup.pending) {
    return Refuse("jwt_key_pending",
                  "signed by a key the broker is still fetching from the "
                  "identity provider; retry shortly",
                  absl::StrCat("kid ", kid, " ", lookup.why));
  }
  if (!lookup.key) {
    return Refuse("jwt_unknown_kid", "signed by an unknown key",
                  absl::StrCat("kid ", kid, " ", lookup.why));
  }
  const Jwk& key = *lookup.key;
  if (key.algorithm() != alg) {
    return Refuse(
        "jwt_key_mismatch", "the algorithm does not match the key's type",
        absl::StrCat("alg ", alg_name, " with kid ", kid, ", which is a ",
                     JwsAlgorithmName(key.algorithm()), " key"));
  }
  if (!key.Verify(signing_input, signature)) {
    return Refuse("jwt_bad_signature", "the signature does not verify",
                  absl::StrCat("kid ", kid, ", alg ", alg_name));
  }
  return absl::OkStatus();
}

// iss is the configured issuer; aud (string or array) holds the audience.
absl::Status CheckIssuerAudience(const Json& claims,
                                 const JwtVerifierOptions& options) {
  const auto iss = claims.find("iss");
  if (iss == claims.end() || !iss->is_string() ||
      iss->get<std::string>() != options.issuer) {
    return Refuse(
        "jwt_wrong_issuer", "issued by another issuer",
        absl::StrCat("iss ",
                     iss == claims.end() ? "missing" : ForLog(iss->dump()),
                     ", expected ", ForLog(options.issuer)));
  }
  const auto aud = claims.find("aud");
  bool audience_ok = false;
  if (aud != claims.end() && aud->is_string()) {
    audience_ok = aud->get<std::string>() == options.audience;
  } else if (aud != claims.end() && aud->is_array()) {
    for (const Json& a : *aud) {
      if (a.is_string() && a.get<std::string>() == options.audience) {
        audience_ok = true;
      }
    }
  }
  if (!audience_ok) {
    return Refuse(
        "jwt_wrong_audience", "not meant for this broker (aud)",
        absl::StrCat("aud ",
                     aud == claims.end() ? "missing" : ForLog(aud->dump()),
                     ", expected it to contain ", ForLog(options.audience)));
  }
  return absl::OkStatus();
}

// exp is present and not past; nbf, when present, is not ahead; both with
// `skew`.
absl::Status CheckTimes(const Json& claims, absl::Time now,
                        absl::Duration skew) {
  const TimeClaim exp = ReadTime(claims, "exp");
  if (!exp.valid) {
    return Refuse("jwt_no_expiry",
                  "exp is missing or not a NumericDate; tokens must expire");
  }
  if (now >= exp.time + skew) {
    return Refuse(
        "jwt_expired", "expired",
        absl::StrCat("exp ", Timestamp(exp.time), ", now ", Timestamp(now),
                     ", clock skew ", absl::FormatDuration(skew)));
  }
  const TimeClaim nbf = ReadTime(claims, "nbf");
  if (nbf.present && !nbf.valid) {
    return Refuse("jwt_malformed", "nbf is not a NumericDate");
  }
  if (nbf.present && now + skew < nbf.time) {
    return Refuse(
        "jwt_not_yet_valid", "not valid yet (nbf)",
        absl::StrCat("nbf ", Timestamp(nbf.time), ", now ", Timestamp(now),
                     ", clock skew ", absl::FormatDuration(skew)));
  }
  return absl::OkStatus();
}

}  // namespace

JwtVerifier::JwtVerifier(JwtVerifierOptions options,
                         std::unique_ptr<JwksCache> keys,
                         std::function<absl::Time()> clock)
    : options_(std::move(options)),
      clock_(std::move(clock)),
      keys_(std::move(keys)) {}

absl::StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(
    JwtVerifierOptions options, std::unique_ptr<JwksSource> source,
    std::function<absl::Time()> clock) {
  if (options.issuer.empty() || options.audience.empty()) {
    return absl::InvalidArgumentError(
        "JWT verifier: issuer and audience are "
        "required");
  }
  if (options.allowed_algorithms.empty()) {
    return absl::InvalidArgumentError("JWT verifier: no allowed algorithms");
  }
  if (source == nullptr || !clock) {
    return absl::InvalidArgumentError(
        "JWT verifier: a key source and a clock are required");
  }
  JwksCacheOptions cache_options;
  cache_options.refresh_min_interval = options.refresh_min_interval;
  cache_options.unknown_key_wait = options.unknown_key_wait;
  cache_options.initial_load_required = options.initial_load_required;
  absl::StatusOr<std::unique_ptr<JwksCache>> keys =
      JwksCache::Create(cache_options, std::move(source), clock);
  if (!keys.ok()) return keys.status();
  return std::unique_ptr<JwtVerifier>(
      new JwtVerifier(std::move(options), *std::move(keys), std::move(clock)));
}

std::set<std::string> JwtVerifier::KeyIds() const { return keys_->KeyIds(); }

JwtVerifier::Result JwtVerifier::Verify(absl::string_view token) const {
  struct Shared {
    absl::Notification done;
    std::optional<Result> result;
  };
  auto shared = std::make_shared<Shared>();
  std::optional<Result> now = VerifyOrDefer(token, [shared](Result r) {
    shared->result = std::move(r);
    shared->done.Notify();
  });
  if (now.has_value()) return *std::move(now);
  // The cache answers within unknown_key_wait.
  shared->done.WaitForNotification();
  return *std::move(shared->result);
}

std::optional<JwtVerifier::Result> JwtVerifier::VerifyOrDefer(
    absl::string_view token, ResultCallback later) const {
  absl::StatusOr<Parsed> parsed = Parse(token);
  if (!parsed.ok()) return Result(parsed.status());
  auto shared = std::make_shared<const Parsed>(*std::move(parsed));
  std::optional<JwksCache::Lookup> lookup = keys_->FindOrWait(
      shared->kid,
      [this, shared, later = std::move(later)](JwksCache::Lookup lookup) {
        later(Finish(*shared, lookup));
      });
  if (!lookup.has_value()) return std::nullopt;
  return Finish(*shared, *lookup);
}

absl::StatusOr<JwtVerifier::Parsed> JwtVerifier::Parse(
    absl::string_view token) const {
  JwsParseOptions jws_options;
  jws_options.max_bytes = kMaxJwtBytes;
  jws_options.allowed_algorithms = options_.allowed_algorithms;
  absl::StatusOr<CompactJws> jws = ParseCompactJws(token, jws_options);
  if (!jws.ok()) return RefuseJws(jws.status());
  return *std::move(jws);
}

JwtVerifier::Result JwtVerifier::Finish(const Parsed& parsed,
                                        const JwksCache::Lookup& lookup) const {
  if (absl::Status s =
          CheckSignature(parsed.signing_input, parsed.signature, parsed.alg,
                         parsed.alg_name, parsed.kid, lookup);
      !s.ok()) {
    return s;
  }
  // Signed by a trusted key: now the claims may be read.
  absl::StatusOr<Json> claims = JwsPayloadObject(parsed, "JWT claims");
  if (!claims.ok()) return RefuseJws(claims.status());
  if (absl::Status s = CheckIssuerAudience(*claims, options_); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTimes(*claims, clock_(), options_.clock_skew);
      !s.ok()) {
    return s;
  }
  return VerifiedJwt{parsed.kid, parsed.alg, *std::move(claims)};
}

}  // namespace approval
