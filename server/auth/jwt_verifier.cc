#include "server/auth/jwt_verifier.h"

#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/auth/refusal.h"

namespace approval {
namespace {

using Json = nlohmann::json;

// NumericDate bounds: after 1970 and before the year 5138.
constexpr double kMaxNumericDate = 1e11;

absl::Status Refuse(absl::string_view reason, absl::string_view what,
                    absl::string_view detail = "") {
  return Unauthenticated(reason, absl::StrCat("bearer token refused: ", what),
                         detail);
}

// Parses a JOSE header or claims set: a JSON object without repeated keys
// (two "alg" or two "iss" could be read differently by different parsers).
std::optional<Json> ParseObject(absl::string_view text) {
  std::vector<std::set<std::string>> seen;
  bool duplicate = false;
  Json::parser_callback_t check = [&](int, Json::parse_event_t event,
                                      Json& parsed) {
    if (event == Json::parse_event_t::object_start) seen.emplace_back();
    if (event == Json::parse_event_t::object_end) seen.pop_back();
    if (event == Json::parse_event_t::key && !seen.empty() &&
        !seen.back().insert(parsed.get<std::string>()).second) {
      duplicate = true;
    }
    return true;
  };
  Json value = Json::parse(text.begin(), text.end(), check,
                           /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object() || duplicate) {
    return std::nullopt;
  }
  return value;
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

}  // namespace

JwtVerifier::JwtVerifier(JwtVerifierOptions options,
                         std::unique_ptr<JwksSource> source,
                         std::function<absl::Time()> clock)
    : options_(std::move(options)),
      source_(std::move(source)),
      clock_(std::move(clock)),
      keys_(std::make_shared<const JwkSet>()) {}

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
  const bool required = options.initial_load_required;
  std::unique_ptr<JwtVerifier> verifier(
      new JwtVerifier(std::move(options), std::move(source), std::move(clock)));
  absl::MutexLock lock(&verifier->load_mu_);
  absl::Status loaded = verifier->Load();
  if (!loaded.ok() && required) return loaded;
  return verifier;
}

absl::Status JwtVerifier::Load() const {
  const absl::Time now = clock_();
  {
    absl::MutexLock lock(&mu_);
    last_load_ = now;
  }
  absl::StatusOr<std::string> text = source_->Fetch();
  absl::StatusOr<JwkSet> set =
      text.ok() ? ParseJwks(*text) : absl::StatusOr<JwkSet>(text.status());
  absl::MutexLock lock(&mu_);
  if (!set.ok()) {
    last_load_error_ =
        absl::StrCat(source_->Describe(), ": ", set.status().message());
    return absl::Status(set.status().code(), last_load_error_);
  }
  last_load_error_.clear();
  keys_ = std::make_shared<const JwkSet>(*std::move(set));
  return absl::OkStatus();
}

std::optional<Jwk> JwtVerifier::FindKey(const std::string& kid,
                                        std::string& why) const {
  {
    absl::MutexLock lock(&mu_);
    const auto it = keys_->keys.find(kid);
    if (it != keys_->keys.end()) return it->second;
  }
  absl::MutexLock load_lock(&load_mu_);
  const absl::Time now = clock_();
  {
    absl::MutexLock lock(&mu_);
    // Another caller may have reloaded while this one waited.
    const auto it = keys_->keys.find(kid);
    if (it != keys_->keys.end()) return it->second;
    if (last_load_.has_value() &&
        now - *last_load_ < options_.refresh_min_interval) {
      why = absl::StrCat(
          "not in the key set, which was loaded at ", Timestamp(*last_load_),
          "; the next reload is allowed after ",
          Timestamp(*last_load_ + options_.refresh_min_interval),
          last_load_error_.empty()
              ? ""
              : absl::StrCat(" (that load failed: ", last_load_error_, ")"));
      return std::nullopt;
    }
  }
  absl::Status loaded = Load();
  absl::MutexLock lock(&mu_);
  const auto it = keys_->keys.find(kid);
  if (it != keys_->keys.end()) return it->second;
  why = loaded.ok() ? "not in the key set, even after reloading it"
                    : absl::StrCat(
                          "not in the key set, and reloading it "
                          "failed: ",
                          loaded.message());
  return std::nullopt;
}

std::set<std::string> JwtVerifier::KeyIds() const {
  absl::MutexLock lock(&mu_);
  std::set<std::string> ids;
  for (const auto& [kid, key] : keys_->keys) ids.insert(kid);
  return ids;
}

absl::StatusOr<VerifiedJwt> JwtVerifier::Verify(absl::string_view token) const {
  if (token.size() > kMaxJwtBytes) {
    return Refuse("jwt_malformed", "too large",
                  absl::StrCat(token.size(), " bytes, limit ", kMaxJwtBytes));
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) {
    return Refuse("jwt_malformed",
                  "not a signed JWT (header.payload.signature)");
  }
  const std::optional<std::string> header_text = Base64UrlDecode(parts[0]);
  const std::optional<Json> header =
      header_text ? ParseObject(*header_text) : std::nullopt;
  if (!header) {
    return Refuse("jwt_malformed", "the header is not base64url JSON");
  }

  // The algorithm: allowed by configuration, whatever the token claims.
  const auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) {
    return Refuse("jwt_malformed", "the header has no alg");
  }
  const std::string alg_name = alg_it->get<std::string>();
  if (absl::AsciiStrToLower(alg_name) == "none") {
    return Refuse("jwt_alg_none", "unsigned tokens (alg none) are refused");
  }
  const std::optional<JwsAlgorithm> alg = ParseJwsAlgorithm(alg_name);
  if (!alg || options_.allowed_algorithms.count(*alg) == 0) {
    return Refuse("jwt_alg_not_allowed", "signature algorithm not allowed",
                  absl::StrCat("alg ", ForLog(alg_name)));
  }
  // RFC 7515 4.1.11: extensions we do not understand must not be ignored.
  if (header->contains("crit")) {
    return Refuse("jwt_crit_header",
                  "the header lists critical extensions, none of which are "
                  "supported");
  }
  // jku, x5u, x5c and jwk are deliberately never read: keys come from the
  // configured JWKS only.
  const auto kid_it = header->find("kid");
  if (kid_it == header->end() || !kid_it->is_string()) {
    return Refuse("jwt_kid_missing", "the header has no key id (kid)");
  }
  const std::string kid = kid_it->get<std::string>();
  if (!IsSafeKeyId(kid)) {
    return Refuse("jwt_kid_invalid", "the key id (kid) is malformed",
                  absl::StrCat("kid ", ForLog(kid)));
  }
  const std::optional<std::string> signature = Base64UrlDecode(parts[2]);
  if (!signature || signature->empty()) {
    return Refuse("jwt_malformed", "the signature is not base64url");
  }

  std::string why;
  const std::optional<Jwk> key = FindKey(kid, why);
  if (!key) {
    return Refuse("jwt_unknown_kid", "signed by an unknown key",
                  absl::StrCat("kid ", kid, " ", why));
  }
  if (key->algorithm() != *alg) {
    return Refuse(
        "jwt_key_mismatch", "the algorithm does not match the key's type",
        absl::StrCat("alg ", alg_name, " with kid ", kid, ", which is a ",
                     JwsAlgorithmName(key->algorithm()), " key"));
  }
  const absl::string_view signing_input =
      token.substr(0, parts[0].size() + 1 + parts[1].size());
  if (!key->Verify(signing_input, *signature)) {
    return Refuse("jwt_bad_signature", "the signature does not verify",
                  absl::StrCat("kid ", kid, ", alg ", alg_name));
  }

  // Signed by a trusted key: now the claims may be read.
  const std::optional<std::string> payload_text = Base64UrlDecode(parts[1]);
  std::optional<Json> claims =
      payload_text ? ParseObject(*payload_text) : std::nullopt;
  if (!claims) {
    return Refuse("jwt_malformed", "the payload is not a JSON object");
  }
  const auto iss = claims->find("iss");
  if (iss == claims->end() || !iss->is_string() ||
      iss->get<std::string>() != options_.issuer) {
    return Refuse(
        "jwt_wrong_issuer", "issued by another issuer",
        absl::StrCat("iss ",
                     iss == claims->end() ? "missing" : ForLog(iss->dump()),
                     ", expected ", ForLog(options_.issuer)));
  }
  const auto aud = claims->find("aud");
  bool audience_ok = false;
  if (aud != claims->end() && aud->is_string()) {
    audience_ok = aud->get<std::string>() == options_.audience;
  } else if (aud != claims->end() && aud->is_array()) {
    for (const Json& a : *aud) {
      if (a.is_string() && a.get<std::string>() == options_.audience) {
        audience_ok = true;
      }
    }
  }
  if (!audience_ok) {
    return Refuse(
        "jwt_wrong_audience", "not meant for this broker (aud)",
        absl::StrCat("aud ",
                     aud == claims->end() ? "missing" : ForLog(aud->dump()),
                     ", expected it to contain ", ForLog(options_.audience)));
  }
  const absl::Time now = clock_();
  const TimeClaim exp = ReadTime(*claims, "exp");
  if (!exp.valid) {
    return Refuse("jwt_no_expiry",
                  "exp is missing or not a NumericDate; tokens must expire");
  }
  if (now >= exp.time + options_.clock_skew) {
    return Refuse("jwt_expired", "expired",
                  absl::StrCat("exp ", Timestamp(exp.time), ", now ",
                               Timestamp(now), ", clock skew ",
                               absl::FormatDuration(options_.clock_skew)));
  }
  const TimeClaim nbf = ReadTime(*claims, "nbf");
  if (nbf.present && !nbf.valid) {
    return Refuse("jwt_malformed", "nbf is not a NumericDate");
  }
  if (nbf.present && now + options_.clock_skew < nbf.time) {
    return Refuse("jwt_not_yet_valid", "not valid yet (nbf)",
                  absl::StrCat("nbf ", Timestamp(nbf.time), ", now ",
                               Timestamp(now), ", clock skew ",
                               absl::FormatDuration(options_.clock_skew)));
  }
  return VerifiedJwt{kid, *alg, *std::move(claims)};
}

}  // namespace approval
