#include "wire/jws.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/strict_json.h"
#include "wire/base64url.h"

namespace approval {
namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kMaxKeyIdBytes = 128;
constexpr absl::string_view kReasonUrl = "type.approval.broker/jws_refusal";
constexpr absl::string_view kDetailUrl = "type.approval.broker/jws_detail";

absl::Status Refuse(absl::string_view reason, absl::string_view what,
                    absl::string_view detail = "") {
  absl::Status s = absl::UnauthenticatedError(what);
  s.SetPayload(kReasonUrl, absl::Cord(reason));
  if (!detail.empty()) s.SetPayload(kDetailUrl, absl::Cord(detail));
  return s;
}

// `value` made safe for a log line: printable ASCII only, at most 80 bytes,
// quoted.
std::string ForDetail(absl::string_view value) {
  std::string out = "\"";
  for (char c : value.substr(0, 80)) {
    out += absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  if (value.size() > 80) out += "...";
  return out + "\"";
}

// A JOSE header or claims set: a JSON object without comments or repeated
// keys (two "alg" or two "sub" could be read differently by different
// parsers).
absl::StatusOr<Json> ParseObject(absl::string_view text,
                                 absl::string_view what) {
  absl::StatusOr<Json> value =
      ParseStrictJson(text, what, JsonComments::kRefused);
  if (!value.ok()) {
    if (std::optional<std::string> key = RepeatedJsonKey(value.status())) {
      return Refuse("malformed", absl::StrCat(what, ": key ", QuoteJson(*key),
                                              " appears twice"));
    }
    return Refuse("malformed", absl::StrCat(what, ": not valid JSON"),
                  ForDetail(value.status().message()));
  }
  if (!value->is_object()) {
    return Refuse("malformed", absl::StrCat(what, ": not a JSON object"));
  }
  return value;
}

}  // namespace

std::optional<JwsAlgorithm> ParseJwsAlgorithm(absl::string_view name) {
  if (name == "RS256") return JwsAlgorithm::kRs256;
  if (name == "ES256") return JwsAlgorithm::kEs256;
  if (name == "EdDSA") return JwsAlgorithm::kEdDsa;
  return std::nullopt;
}

absl::string_view JwsAlgorithmName(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kRs256:
      return "RS256";
    case JwsAlgorithm::kEs256:
      return "ES256";
    case JwsAlgorithm::kEdDsa:
      return "EdDSA";
  }
  return "unknown";
}

bool IsSafeKeyId(absl::string_view kid) {
  if (kid.empty() || kid.size() > kMaxKeyIdBytes) return false;
  if (absl::StrContains(kid, "..")) return false;
  for (char c : kid) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == '=' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

JwsRefusal JwsRefusalOf(const absl::Status& status) {
  JwsRefusal out{"malformed", ""};
  if (auto r = status.GetPayload(kReasonUrl)) {
    out.reason = std::string(*r);
  }
  if (auto d = status.GetPayload(kDetailUrl)) {
    out.detail = std::string(*d);
  }
  return out;
}

absl::StatusOr<CompactJws> ParseCompactJws(absl::string_view token,
                                           const JwsParseOptions& options) {
  if (token.size() > options.max_bytes) {
    return Refuse(
        "malformed", "too large",
        absl::StrCat(token.size(), " bytes, limit ", options.max_bytes));
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) {
    return Refuse("malformed", "not a signed JWT (header.payload.signature)");
  }
  const std::optional<std::string> header_text = Base64UrlDecode(parts[0]);
  if (!header_text || header_text->empty()) {
    return Refuse("malformed", "the header is not base64url");
  }
  absl::StatusOr<Json> header = ParseObject(*header_text, "JWT header");
  if (!header.ok()) return header.status();

  const auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) {
    return Refuse("malformed", "the header has no alg");
  }
  const std::string alg_name = alg_it->get<std::string>();
  if (absl::AsciiStrToLower(alg_name) == "none") {
    return Refuse("alg_none", "unsigned tokens (alg none) are refused");
  }
  const std::optional<JwsAlgorithm> alg = ParseJwsAlgorithm(alg_name);
  if (!alg || options.allowed_algorithms.count(*alg) == 0) {
    return Refuse("alg_not_allowed", "signature algorithm not allowed",
                  absl::StrCat("alg ", ForDetail(alg_name)));
  }
  // RFC 7515 4.1.11: extensions we do not understand must not be ignored.
  if (header->contains("crit")) {
    return Refuse("crit_header",
                  "the header lists critical extensions, none of which are "
                  "supported");
  }
  // jku, x5u, x5c and jwk are deliberately never read: keys come from
  // configuration only.
  const auto kid_it = header->find("kid");
  if (kid_it == header->end() || !kid_it->is_string()) {
    return Refuse("kid_missing", "the header has no key id (kid)");
  }
  const std::string kid = kid_it->get<std::string>();
  if (!IsSafeKeyId(kid)) {
    return Refuse("kid_invalid", "the key id (kid) is malformed",
                  absl::StrCat("kid ", ForDetail(kid)));
  }
  if (!options.required_type.empty()) {
    const auto typ = header->find("typ");
    if (typ == header->end() || !typ->is_string() ||
        typ->get<std::string>() != options.required_type) {
      return Refuse(
          "wrong_type",
          absl::StrCat("the header's typ is not ", options.required_type),
          typ == header->end() ? "typ missing"
                               : absl::StrCat("typ ", ForDetail(typ->dump())));
    }
  }
  std::optional<std::string> signature = Base64UrlDecode(parts[2]);
  if (!signature || signature->empty()) {
    return Refuse("malformed", "the signature is not base64url");
  }
  CompactJws out;
  out.alg = *alg;
  out.alg_name = alg_name;
  out.kid = kid;
  out.signing_input = absl::StrCat(parts[0], ".", parts[1]);
  out.payload_b64 = std::string(parts[1]);
  out.signature = *std::move(signature);
  return out;
}

absl::StatusOr<nlohmann::ordered_json> JwsPayloadObject(
    const CompactJws& jws, absl::string_view what) {
  const std::optional<std::string> text = Base64UrlDecode(jws.payload_b64);
  if (!text) {
    return Refuse("malformed", absl::StrCat(what, ": not base64url"));
  }
  return ParseObject(*text, what);
}

std::string JwsSigningInput(absl::string_view header_json,
                            absl::string_view payload_json) {
  return absl::StrCat(Base64UrlEncode(header_json), ".",
                      Base64UrlEncode(payload_json));
}

std::string CompactJwsOf(absl::string_view signing_input,
                         absl::string_view signature) {
  return absl::StrCat(signing_input, ".", Base64UrlEncode(signature));
}

}  // namespace approval
