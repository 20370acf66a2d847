#include "server/domain/rules.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "server/domain/masking.h"
#include "server/domain/text.h"
#include "wire/canonical.h"

namespace approval {
namespace {

using Json = nlohmann::json;

std::string Upper(absl::string_view s) {
  return absl::AsciiStrToUpper(std::string(s));
}

// Actions name a kind of operation and become metric labels: keep them to a
// small, printable alphabet.
bool IsActionChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '-' || c == ':' || c == '/';
}

// Approve reviews so far; each reviewer has at most one review.
int CountApprovals(const Approval& a) {
  int n = 0;
  for (const Review& r : a.reviews) {
    if (r.verdict == Verdict::kApprove) ++n;
  }
  return n;
}

Json RequirementJson(const Requirement& r) {
  return {
      {"rule", r.rule},
      {"outcome", std::string(OutcomeName(r.outcome))},
      {"reviewer_groups", r.reviewer_groups},
      {"approvals_required", r.approvals_required},
      {"deny_ends", r.deny_ends},
      {"execution_window_us", absl::ToInt64Microseconds(r.execution_window)}};
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

}  // namespace

absl::StatusOr<ValidRequest> ValidateRequest(const RequestInput& in,
                                             absl::string_view requester,
                                             const Limits& limits,
                                             absl::string_view on_behalf_of) {
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

absl::Status WithRefusalReason(absl::Status s, absl::string_view reason) {
  if (!s.ok()) s.SetPayload(kRefusalReasonUrl, absl::Cord(reason));
  return s;
}

std::string RefusalReason(const absl::Status& s) {
  absl::optional<absl::Cord> reason = s.GetPayload(kRefusalReasonUrl);
  return reason.has_value() ? std::string(*reason) : std::string();
}

bool IsSelfApproval(const Approval& a, absl::string_view actor) {
  return a.requester == actor ||
         (!a.on_behalf_of.empty() && a.on_behalf_of == actor);
}

absl::Status CheckDecision(const Approval& a, absl::string_view actor,
                           absl::Time now) {
  if (a.requester == actor) {
    return WithRefusalReason(
        absl::PermissionDeniedError(absl::StrCat(
            "self-approval refused: ", actor, " requested approval ", a.id,
            "; another reviewer must decide")),
        "self_approval");
  }
  if (IsSelfApproval(a, actor)) {
    return WithRefusalReason(
        absl::PermissionDeniedError(absl::StrCat(
            "self-approval refused: ", actor, " is the human behind ",
            a.requester, ", which requested approval ", a.id,
            " on their behalf; another reviewer must decide")),
        "on_behalf_of_self_approval");
  }
  if (IsTerminal(a.state)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "approval ", a.id, " is already ", Upper(StateName(a.state))));
  }
  if (now >= a.expires_at) {
    return absl::FailedPreconditionError(absl::StrCat(
        "approval ", a.id, " expired at ", FormatTimestamp(a.expires_at)));
  }
  return absl::OkStatus();
}

absl::Status CheckReview(const Approval& a, absl::string_view actor,
                         const std::vector<std::string>& actor_groups,
                         absl::Time now) {
  if (absl::Status s = CheckDecision(a, actor, now); !s.ok()) return s;
  const std::vector<std::string>& wanted = a.requirement.reviewer_groups;
  if (!wanted.empty()) {
    bool member = false;
    for (const std::string& g : actor_groups) {
      if (std::find(wanted.begin(), wanted.end(), g) != wanted.end()) {
        member = true;
        break;
      }
    }
    if (!member) {
      return WithRefusalReason(
          absl::PermissionDeniedError(absl::StrCat(
              actor, " may not review approval ", a.id, ": rule \"",
              a.requirement.rule, "\" needs a member of [",
              absl::StrJoin(wanted, ", "), "]")),
          "not_in_reviewer_groups");
    }
  }
  for (const Review& r : a.reviews) {
    if (r.reviewer == actor) {
      return absl::AlreadyExistsError(absl::StrCat(
          actor, " already reviewed approval ", a.id, " (",
          VerdictName(r.verdict), " at ", FormatTimestamp(r.reviewed_at),
          "); each person counts once"));
    }
  }
  return absl::OkStatus();
}

bool IsAuditedRefusal(const absl::Status& s) {
  return s.code() == absl::StatusCode::kPermissionDenied ||
         s.code() == absl::StatusCode::kAlreadyExists;
}

int ApprovalsMissing(const Approval& a) {
  if (IsTerminal(a.state)) return 0;
  return std::max(0, a.requirement.approvals_required - CountApprovals(a));
}

std::optional<State> QuorumOutcome(const Approval& a) {
  if (a.requirement.deny_ends) {
    for (const Review& r : a.reviews) {
      if (r.verdict == Verdict::kDeny) return State::kDenied;
    }
  }
  if (CountApprovals(a) >= a.requirement.approvals_required) {
    return State::kApproved;
  }
  return std::nullopt;
}

std::vector<std::string> ApproversOf(const Approval& a) {
  std::vector<std::string> out;
  for (const Review& r : a.reviews) {
    if (r.verdict == Verdict::kApprove) out.push_back(r.reviewer);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::Status CheckCancel(const Approval& a, absl::string_view actor) {
  if (a.requester != actor) {
    return WithRefusalReason(
        absl::PermissionDeniedError(
            absl::StrCat("only the requester may cancel approval ", a.id)),
        "not_requester");
  }
  if (IsTerminal(a.state)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "approval ", a.id, " is already ", Upper(StateName(a.state))));
  }
  return absl::OkStatus();
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

std::string FormatTimestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

std::string CreatedDetails(const Approval& a) {
  Json d = {{"action", a.action},
            {"resource", a.resource},
            {"action_digest", a.action_digest},
            {"justification", a.justification},
            {"requester", a.requester},
            {"idempotency_key", a.idempotency_key},
            {"expires_at", FormatTimestamp(a.expires_at)}};
  // Only when set: events of approvals made for nobody keep their bytes.
  if (!a.on_behalf_of.empty()) d["on_behalf_of"] = a.on_behalf_of;
  // Only when a rule applied (every approval since policies exist).
  if (!a.requirement.rule.empty())
    d["requirement"] = RequirementJson(a.requirement);
  return d.dump();
}

std::string ReviewDetails(const Approval& a_after, const Review& r) {
  Json d = {{"verdict", std::string(VerdictName(r.verdict))},
            {"comment", r.comment},
            {"rule", a_after.requirement.rule},
            {"approvals", CountApprovals(a_after)},
            {"approvals_required", a_after.requirement.approvals_required}};
  return d.dump();
}

std::string QuorumDetails(const Approval& a_after) {
  Json reviews = Json::array();
  for (const Review& r : a_after.reviews) {
    reviews.push_back({{"reviewer", r.reviewer},
                       {"verdict", std::string(VerdictName(r.verdict))}});
  }
  Json d = {{"rule", a_after.requirement.rule},
            {"approvals_required", a_after.requirement.approvals_required},
            {"reviews", reviews}};
  return d.dump();
}

std::string AutoOutcomeDetails(const Requirement& r) {
  Json d = {{"rule", r.rule}, {"outcome", std::string(OutcomeName(r.outcome))}};
  return d.dump();
}

std::string RefusalDetails(absl::string_view reason, Verdict v) {
  Json d = {{"reason", std::string(reason)},
            {"verdict", std::string(VerdictName(v))}};
  return d.dump();
}

std::string CancelDetails(absl::string_view reason) {
  Json d = {{"reason", std::string(reason)}};
  return d.dump();
}

std::string ExpiryDetails(absl::Time expires_at) {
  Json d = {{"expires_at", FormatTimestamp(expires_at)}};
  return d.dump();
}

}  // namespace approval
