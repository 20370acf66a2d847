#include "wire/approval_token.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "wire/base64url.h"

namespace approval {
namespace {

// std::map-backed: keys come out sorted, which makes dump() canonical for
// the flat, ASCII-keyed object a token carries.
using Json = nlohmann::json;

// A token is small (a few hundred bytes); refuse to parse megabytes.
constexpr size_t kMaxTokenBytes = 64 * 1024;

constexpr char kTimeFormat[] = "%Y-%m-%dT%H:%M:%E6SZ";
// Parsing takes any precision; the canonical re-encoding then insists on six.
constexpr char kTimeParseFormat[] = "%Y-%m-%dT%H:%M:%E*SZ";

std::string TokenTime(absl::Time t) {
  return absl::FormatTime(kTimeFormat, t, absl::UTCTimeZone());
}

absl::Status Unauthenticated(absl::string_view what) {
  return absl::UnauthenticatedError(
      absl::StrCat("approval token rejected: ", what));
}

// A token part: base64url without padding, and not empty.
std::optional<std::string> DecodePart(absl::string_view part) {
  if (part.empty()) return std::nullopt;
  return Base64UrlDecode(part);
}

absl::StatusOr<absl::Time> ParseTokenTime(const Json& v, const char* field) {
  absl::Time t;
  std::string err;
  if (!v.is_string() || !absl::ParseTime(kTimeParseFormat, v.get<std::string>(),
                                         absl::UTCTimeZone(), &t, &err)) {
    return Unauthenticated(absl::StrCat(field, " is not an RFC 3339 time"));
  }
  return t;
}

absl::Status CheckVersion(const Json& payload) {
  auto v = payload.find("v");
  if (v == payload.end() || !v->is_number_integer()) {
    return Unauthenticated("payload has no version");
  }
  if (v->get<int64_t>() != kApprovalTokenVersion) {
    return Unauthenticated(absl::StrCat("unknown token version ",
                                        v->get<int64_t>(), " (this code reads ",
                                        kApprovalTokenVersion, ")"));
  }
  return absl::OkStatus();
}

absl::Status ReadStrings(const Json& payload, ApprovalClaims& c) {
  const std::pair<const char*, std::string*> strings[] = {
      {"action", &c.action},
      {"action_digest", &c.action_digest},
      {"approval_id", &c.approval_id},
      {"key_id", &c.key_id},
      {"rule", &c.rule}};
  for (const auto& [field, out] : strings) {
    auto it = payload.find(field);
    if (it == payload.end() || !it->is_string()) {
      return Unauthenticated(
          absl::StrCat("payload field ", field, " is missing or not a string"));
    }
    *out = it->get<std::string>();
  }
  return absl::OkStatus();
}

absl::Status ReadApprovers(const Json& payload, ApprovalClaims& c) {
  auto approvers = payload.find("approvers");
  if (approvers == payload.end() || !approvers->is_array()) {
    return Unauthenticated("payload field approvers is not a list");
  }
  for (const Json& a : *approvers) {
    if (!a.is_string()) return Unauthenticated("an approver is not a string");
    c.approvers.push_back(a.get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status ReadTimes(const Json& payload, ApprovalClaims& c) {
  const std::pair<const char*, absl::Time*> times[] = {
      {"approved_at", &c.approved_at},
      {"not_before", &c.not_before},
      {"not_after", &c.not_after}};
  for (const auto& [field, out] : times) {
    auto it = payload.find(field);
    if (it == payload.end()) {
      return Unauthenticated(
          absl::StrCat("payload field ", field, " is missing"));
    }
    absl::StatusOr<absl::Time> t = ParseTokenTime(*it, field);
    if (!t.ok()) return t.status();
    *out = *t;
  }
  return absl::OkStatus();
}

absl::StatusOr<ApprovalClaims> ClaimsFromPayload(absl::string_view payload) {
  const Json j = Json::parse(payload.begin(), payload.end(), nullptr,
                             /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Unauthenticated("payload is not a JSON object");
  }
  ApprovalClaims c;
  absl::Status read = CheckVersion(j);
  if (read.ok()) read = ReadStrings(j, c);
  if (read.ok()) read = ReadApprovers(j, c);
  if (read.ok()) read = ReadTimes(j, c);
  if (!read.ok()) return read;
  // Unknown keys, reordered keys, other spacing or escapes, unsorted
  // approvers: none of it can come from TokenSigner::Sign.
  if (!std::is_sorted(c.approvers.begin(), c.approvers.end()) ||
      ApprovalTokenPayload(c) != payload) {
    return Unauthenticated("payload is not in canonical form");
  }
  return c;
}

}  // namespace

std::string ApprovalTokenPayload(const ApprovalClaims& c) {
  Json approvers = Json::array();
  for (const std::string& a : c.approvers) approvers.push_back(a);
  const Json payload = {{"action", c.action},
                        {"action_digest", c.action_digest},
                        {"approval_id", c.approval_id},
                        {"approved_at", TokenTime(c.approved_at)},
                        {"approvers", std::move(approvers)},
                        {"key_id", c.key_id},
                        {"not_after", TokenTime(c.not_after)},
                        {"not_before", TokenTime(c.not_before)},
                        {"rule", c.rule},
                        {"v", c.version}};
  return payload.dump(-1, ' ', /*ensure_ascii=*/false,
                      Json::error_handler_t::replace);
}

std::string ApprovalTokenOf(absl::string_view payload,
                            absl::string_view signature) {
  return absl::StrCat(Base64UrlEncode(payload), ".",
                      Base64UrlEncode(signature));
}

absl::StatusOr<ApprovalClaims> VerifyApprovalToken(
    absl::string_view token, absl::string_view public_key_pem) {
  absl::StatusOr<Ed25519PublicKey> key =
      Ed25519PublicKey::FromPem(public_key_pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker public key: ", key.status().message()));
  }
  if (token.size() > kMaxTokenBytes) return Unauthenticated("too long");
  const size_t dot = token.find('.');
  if (dot == absl::string_view::npos ||
      token.find('.', dot + 1) != absl::string_view::npos) {
    return Unauthenticated("not of the form <payload>.<signature>");
  }
  const std::optional<std::string> payload = DecodePart(token.substr(0, dot));
  if (!payload.has_value()) {
    return Unauthenticated("payload is not base64url without padding");
  }
  const std::optional<std::string> sig = DecodePart(token.substr(dot + 1));
  if (!sig.has_value() || sig->size() != kEd25519SignatureBytes) {
    return Unauthenticated("signature is not 64 bytes of base64url");
  }
  if (!key->Verify(*payload, *sig)) {
    return Unauthenticated(
        "signature does not verify with this public key (the token was "
        "changed, or another key signed it)");
  }
  absl::StatusOr<ApprovalClaims> claims = ClaimsFromPayload(*payload);
  if (!claims.ok()) return claims.status();
  if (claims->key_id != key->key_id()) {
    return Unauthenticated(absl::StrCat("token names key ", claims->key_id,
                                        " but was verified with key ",
                                        key->key_id()));
  }
  return claims;
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
