#include "wire/approval_token.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/common/strict_json.h"
#include "wire/base64url.h"
#include "wire/jws.h"

namespace approval {
namespace {

// Insertion order is kept: the header and claims come out in the
// documented order.
using Json = nlohmann::ordered_json;

// A token is small (a few hundred bytes); refuse to parse megabytes.
constexpr size_t kMaxTokenBytes = 16 * 1024;
// NumericDate bounds: after 1970 and before the year 5138.
constexpr double kMaxNumericDate = 1e11;

std::string TokenTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

absl::Status Unauthenticated(absl::string_view what) {
  return absl::UnauthenticatedError(
      absl::StrCat("approval token rejected: ", what));
}

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false,
                Json::error_handler_t::replace);
}

// A NumericDate: whole seconds as an integer, else seconds with six
// fraction digits (exact to the microsecond, which the broker's windows
// use).
Json NumericDate(absl::Time t) {
  const int64_t micros = absl::ToUnixMicros(t);
  if (micros % 1000000 == 0) return Json(micros / 1000000);
  return Json::parse(
      absl::StrFormat("%d.%06d", micros / 1000000, micros % 1000000));
}

absl::StatusOr<absl::Time> ReadNumericDate(const Json& claims,
                                           const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) {
    return Unauthenticated(
        absl::StrCat("claim ", name, " is missing or not a NumericDate"));
  }
  if (it->is_number_integer()) {
    const int64_t s = it->get<int64_t>();
    if (s < 0 || s > static_cast<int64_t>(kMaxNumericDate)) {
      return Unauthenticated(absl::StrCat("claim ", name, " is out of range"));
    }
    return absl::FromUnixSeconds(s);
  }
  const double s = it->get<double>();
  if (!std::isfinite(s) || s < 0 || s > kMaxNumericDate) {
    return Unauthenticated(absl::StrCat("claim ", name, " is out of range"));
  }
  return absl::FromUnixMicros(std::llround(s * 1e6));
}

absl::Status ReadString(const Json& claims, const char* name,
                        std::string* out) {
  const auto it = claims.find(name);
  if (it == claims.end() || !it->is_string()) {
    return Unauthenticated(
        absl::StrCat("claim ", name, " is missing or not a string"));
  }
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::StatusOr<ApprovalClaims> ClaimsOf(const Json& j) {
  ApprovalClaims c;
  const std::pair<const char*, std::string*> strings[] = {
      {"iss", &c.issuer},
      {"approval_id", &c.approval_id},
      {"action", &c.action},
      {"action_digest", &c.action_digest},
      {"rule", &c.rule}};
  for (const auto& [name, out] : strings) {
    if (absl::Status s = ReadString(j, name, out); !s.ok()) return s;
  }
  if (j.contains("aud")) {
    if (absl::Status s = ReadString(j, "aud", &c.audience); !s.ok()) return s;
  }
  const auto approvers = j.find("approvers");
  if (approvers == j.end() || !approvers->is_array()) {
    return Unauthenticated("claim approvers is missing or not a list");
  }
  for (const Json& a : *approvers) {
    if (!a.is_string()) return Unauthenticated("an approver is not a string");
    c.approvers.push_back(a.get<std::string>());
  }
  const std::pair<const char*, absl::Time*> times[] = {
      {"iat", &c.approved_at}, {"nbf", &c.not_before}, {"exp", &c.not_after}};
  for (const auto& [name, out] : times) {
    absl::StatusOr<absl::Time> t = ReadNumericDate(j, name);
    if (!t.ok()) return t.status();
    *out = *t;
  }
  return c;
}

absl::StatusOr<ApprovalKeySet> ParseJwks(absl::string_view text) {
  absl::StatusOr<Json> parsed =
      ParseStrictJson(text, "approval key set (JWKS)", JsonComments::kRefused);
  if (!parsed.ok()) return parsed.status();
  const auto keys = parsed->is_object() ? parsed->find("keys") : parsed->end();
  if (!parsed->is_object() || keys == parsed->end() || !keys->is_array()) {
    return absl::InvalidArgumentError(
        "approval key set (JWKS): not an object {\"keys\": [...]}");
  }
  ApprovalKeySet set;
  for (size_t i = 0; i < keys->size(); ++i) {
    const Json& jwk = (*keys)[i];
    const std::string where =
        absl::StrCat("approval key set (JWKS): keys[", i, "]: ");
    auto str = [&jwk](const char* name) -> std::optional<std::string> {
      const auto it = jwk.find(name);
      if (it == jwk.end() || !it->is_string()) return std::nullopt;
      return it->get<std::string>();
    };
    if (!jwk.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(where, "not an object"));
    }
    if (str("kty") != "OKP") continue;  // another kind of key: not ours
    if (jwk.contains("d")) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "holds a private key (d); publish public keys only"));
    }
    if (str("crv") != "Ed25519" ||
        (jwk.contains("alg") && str("alg") != "EdDSA") ||
        (jwk.contains("use") && str("use") != "sig")) {
      return absl::InvalidArgumentError(absl::StrCat(
          where,
          "not an Ed25519 signing key (crv Ed25519, alg EdDSA, use "
          "sig)"));
    }
    const std::optional<std::string> x_b64 = str("x");
    const std::optional<std::string> x =
        x_b64 ? Base64UrlDecode(*x_b64) : std::nullopt;
    if (!x || x->size() != kEd25519PublicKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "x is not 32 bytes of base64url"));
    }
    absl::StatusOr<Ed25519PublicKey> key = Ed25519PublicKey::FromRaw(*x);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, key.status().message()));
    }
    const std::optional<std::string> kid = str("kid");
    if (kid != key->key_id()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "kid is not the key's id ", key->key_id(),
                       " (the first 16 hex of SHA-256 over x)"));
    }
    if (!set.keys.emplace(*kid, *std::move(key)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "key ", *kid, " appears twice"));
    }
  }
  if (set.keys.empty()) {
    return absl::InvalidArgumentError(
        "approval key set (JWKS): no Ed25519 key");
  }
  return set;
}

}  // namespace

std::string ApprovalTokenPayload(const ApprovalClaims& c) {
  Json claims = {{"iss", c.issuer}};
  if (!c.audience.empty()) claims["aud"] = c.audience;
  claims["iat"] = NumericDate(c.approved_at);
  claims["nbf"] = NumericDate(c.not_before);
  claims["exp"] = NumericDate(c.not_after);
  claims["approval_id"] = c.approval_id;
  claims["action"] = c.action;
  claims["action_digest"] = c.action_digest;
  claims["rule"] = c.rule;
  claims["approvers"] = c.approvers;
  return Dump(claims);
}

std::string ApprovalTokenSigningInput(const ApprovalClaims& claims,
                                      absl::string_view kid) {
  const Json header = {
      {"alg", "EdDSA"}, {"kid", std::string(kid)}, {"typ", kApprovalTokenType}};
  return JwsSigningInput(Dump(header), ApprovalTokenPayload(claims));
}

std::string ApprovalTokenOf(absl::string_view signing_input,
                            absl::string_view signature) {
  return CompactJwsOf(signing_input, signature);
}

std::string ApprovalJwks(const std::vector<Ed25519PublicKey>& keys) {
  Json list = Json::array();
  for (const Ed25519PublicKey& k : keys) {
    list.push_back({{"kty", "OKP"},
                    {"crv", "Ed25519"},
                    {"x", Base64UrlEncode(k.raw())},
                    {"kid", k.key_id()},
                    {"alg", "EdDSA"},
                    {"use", "sig"}});
  }
  return Dump(Json{{"keys", std::move(list)}});
}

absl::StatusOr<ApprovalKeySet> ParseApprovalKeys(absl::string_view keys) {
  const absl::string_view text = absl::StripLeadingAsciiWhitespace(keys);
  if (!text.empty() && text.front() == '{') return ParseJwks(text);
  absl::StatusOr<Ed25519PublicKey> key = Ed25519PublicKey::FromPem(keys);
  if (!key.ok()) return key.status();
  ApprovalKeySet set;
  set.keys.emplace(key->key_id(), *std::move(key));
  return set;
}

absl::StatusOr<ApprovalClaims> VerifyApprovalToken(absl::string_view token,
                                                   const ApprovalKeySet& keys) {
  JwsParseOptions options;
  options.max_bytes = kMaxTokenBytes;
  options.allowed_algorithms = {JwsAlgorithm::kEdDsa};
  options.required_type = kApprovalTokenType;
  absl::StatusOr<CompactJws> jws = ParseCompactJws(token, options);
  if (!jws.ok()) return Unauthenticated(jws.status().message());
  const auto key = keys.keys.find(jws->kid);
  if (key == keys.keys.end()) {
    std::vector<std::string> known;
    for (const auto& [kid, unused] : keys.keys) known.push_back(kid);
    return Unauthenticated(absl::StrCat("signed by key ", jws->kid,
                                        ", which is not in the key set (",
                                        absl::StrJoin(known, ", "), ")"));
  }
  if (jws->signature.size() != kEd25519SignatureBytes ||
      !key->second.Verify(jws->signing_input, jws->signature)) {
    return Unauthenticated(
        absl::StrCat("signature does not verify with key ", jws->kid,
                     " (the token was changed, or another key signed it)"));
  }
  absl::StatusOr<Json> claims = JwsPayloadObject(*jws, "claims");
  if (!claims.ok()) return Unauthenticated(claims.status().message());
  absl::StatusOr<ApprovalClaims> c = ClaimsOf(*claims);
  if (!c.ok()) return c.status();
  c->key_id = jws->kid;
  return c;
}

absl::StatusOr<ApprovalClaims> VerifyApprovalToken(absl::string_view token,
                                                   absl::string_view keys) {
  absl::StatusOr<ApprovalKeySet> set = ParseApprovalKeys(keys);
  if (!set.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker public key: ", set.status().message()));
  }
  return VerifyApprovalToken(token, *set);
}

absl::Status CheckClaims(const ApprovalClaims& claims,
                         absl::string_view action_digest,
                         absl::string_view approval_id, absl::Time now) {
  if (claims.action_digest != action_digest) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token approves action digest ", claims.action_digest,
                     ", not this action (digest ", action_digest, ")"));
  }
  if (!approval_id.empty() && claims.approval_id != approval_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token is for approval ", claims.approval_id, ", not ",
                     approval_id));
  }
  if (now < claims.not_before) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the token allows execution from ", TokenTime(claims.not_before),
        "; it is now ", TokenTime(now)));
  }
  if (now >= claims.not_after) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the token's execution window closed at ", TokenTime(claims.not_after),
        "; it is now ", TokenTime(now)));
  }
  return absl::OkStatus();
}

}  // namespace approval
