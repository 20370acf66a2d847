#include "server/domain/validation.h"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/domain/masking.h"
#include "server/domain/text.h"
#include "wire/canonical.h"

namespace approval {
namespace {

using Json = nlohmann::json;

// Actions name a kind of operation and become metric labels: keep them to a
// small, printable alphabet.
bool IsActionChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '-' || c == ':' || c == '/';
}

// Required, bounded and (see text.h) neither altered by storage nor able to
// rewrite a reviewer's screen.
absl::Status CheckField(absl::string_view field, absl::string_view value,
                        size_t max_bytes, bool required, TextKind kind) {
  if (required && value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must not be empty"));
  }
  if (value.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", value.size(), " bytes, limit is ", max_bytes));
  }
  return CheckText(field, value, kind);
}

// The text fields of `in`, in the order the proto lists them; the first
// violation wins.
absl::Status CheckRequestText(const RequestInput& in, const Limits& limits) {
  if (absl::Status s = CheckField("action", in.action, limits.max_action_bytes,
                                  true, TextKind::kSingleLine);
      !s.ok()) {
    return s;
  }
  for (char c : in.action) {
    if (!IsActionChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("action: \"", in.action,
                       "\" may contain only letters, digits and . _ - : /"));
    }
  }
  if (absl::Status s =
          CheckField("resource", in.resource, limits.max_resource_bytes, true,
                     TextKind::kSingleLine);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckField("justification", in.justification,
                                  limits.max_justification_bytes, false,
                                  TextKind::kMultiLine);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckField("idempotency_key", in.idempotency_key,
                                  limits.max_idempotency_key_bytes, false,
                                  TextKind::kSingleLine);
      !s.ok()) {
    return s;
  }
  // JSON may break lines between its tokens; inside strings a control
  // character must be escaped, which the JSON reader checks.
  if (absl::Status s =
          CheckField("parameters", in.parameters_json,
                     limits.max_parameters_bytes, false, TextKind::kMultiLine);
      !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ValidRequest> ValidateRequest(const RequestInput& in,
                                             absl::string_view requester,
                                             const Limits& limits,
                                             absl::string_view on_behalf_of) {
  if (absl::Status s = CheckRequestText(in, limits); !s.ok()) return s;
  absl::StatusOr<std::string> params = CanonicalizeJsonObject(
      in.parameters_json.empty() ? absl::string_view("{}")
                                 : absl::string_view(in.parameters_json),
      "parameters");
  if (!params.ok()) return params.status();
  if (in.ttl && (*in.ttl < limits.min_ttl || *in.ttl > limits.max_ttl)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ttl: ", absl::FormatDuration(*in.ttl), " is outside [",
                     absl::FormatDuration(limits.min_ttl), ", ",
                     absl::FormatDuration(limits.max_ttl), "]"));
  }

  ValidRequest out;
  out.action = in.action;
  out.resource = in.resource;
  out.canonical_parameters = *std::move(params);
  out.justification = in.justification;
  out.requester = std::string(requester);
  out.on_behalf_of = std::string(on_behalf_of);
  out.idempotency_key = in.idempotency_key;
  out.ttl = in.ttl;
  out.action_digest =
      ActionDigest(out.action, out.resource, out.canonical_parameters);
  return out;
}

std::string RequestFingerprint(const ValidRequest& v, absl::Duration ttl) {
  Json fingerprint = {{"action_digest", v.action_digest},
                      {"justification", v.justification},
                      {"ttl_us", absl::ToInt64Microseconds(ttl)}};
  // Only when set, so that fingerprints of requests made for nobody stay
  // what they were before on_behalf_of existed.
  if (!v.on_behalf_of.empty()) fingerprint["on_behalf_of"] = v.on_behalf_of;
  return Sha256Hex(fingerprint.dump());
}

absl::StatusOr<NewApproval> ToNewApproval(const ValidRequest& v,
                                          const Masker& masker,
                                          absl::Duration ttl,
                                          Requirement requirement) {
  absl::StatusOr<std::string> preview =
      masker.MaskParameters(v.canonical_parameters);
  if (!preview.ok()) return preview.status();
  NewApproval out;
  out.action = v.action;
  out.resource = masker.MaskText(v.resource);
  out.parameters_preview = *std::move(preview);
  out.justification = masker.MaskText(v.justification);
  out.requester = v.requester;
  out.on_behalf_of = v.on_behalf_of;
  out.idempotency_key = v.idempotency_key;
  out.action_digest = v.action_digest;
  out.request_fingerprint = RequestFingerprint(v, ttl);
  out.ttl = ttl;
  out.requirement = std::move(requirement);
  return out;
}

absl::Status ValidateApprovalId(absl::string_view id) {
  bool ok = id.size() == 36;
  for (size_t i = 0; ok && i < id.size(); ++i) {
    char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      ok = c == '-';
    } else {
      ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("approval_id: \"", id.substr(0, 64),
                     "\" is not a lower-case UUID like "
                     "0b7d6e52-3f0a-4c8e-9a51-6f1e2d3c4b5a"));
  }
  return absl::OkStatus();
}

absl::Status ValidateComment(absl::string_view comment, const Limits& limits,
                             absl::string_view field) {
  return CheckField(field, comment, limits.max_comment_bytes, false,
                    TextKind::kMultiLine);
}

std::string NewUuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    // Without randomness we cannot mint unguessable ids; this is not a state
    // a caller can recover from.
    std::abort();
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string hex =
      HexEncode(absl::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-",
                      hex.substr(12, 4), "-", hex.substr(16, 4), "-",
                      hex.substr(20));
}

}  // namespace approval
