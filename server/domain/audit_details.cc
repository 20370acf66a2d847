#include "server/domain/audit_details.h"

#include <algorithm>
#include <cstdint>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/domain/review_rules.h"

namespace approval {
namespace {

using Json = nlohmann::json;

Json RequirementJson(const Requirement& r) {
  Json j = {
      {"rule", r.rule},
      {"outcome", std::string(OutcomeName(r.outcome))},
      {"reviewer_groups", r.reviewer_groups},
      {"approvals_required", r.approvals_required},
      {"deny_ends", r.deny_ends},
      {"execution_window_us", absl::ToInt64Microseconds(r.execution_window)}};
  // Only when set: rules without escalation keep their bytes.
  if (r.escalate_after > absl::ZeroDuration()) {
    j["escalate_after_us"] = absl::ToInt64Microseconds(r.escalate_after);
    j["escalate_to"] = r.escalate_to;
  }
  return j;
}

// Only when set: events of direct reviews keep their bytes.
void AddRelay(Json& d, absl::string_view relay,
              absl::string_view platform_user) {
  if (!relay.empty()) d["relay"] = std::string(relay);
  if (!platform_user.empty()) d["platform_user"] = std::string(platform_user);
}

}  // namespace

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
            {"approvals", ApproveCount(a_after)},
            {"approvals_required", a_after.requirement.approvals_required}};
  AddRelay(d, r.relay, r.platform_user);
  return d.dump();
}

std::optional<ReviewedDetails> ParseReviewDetails(
    absl::string_view actor, absl::Time occurred_at,
    absl::string_view details_json) {
  const Json d = Json::parse(details_json, nullptr, /*allow_exceptions=*/false);
  if (!d.is_object()) return std::nullopt;
  auto text = [&d](const char* key) -> std::optional<std::string> {
    auto it = d.find(key);
    if (it == d.end()) return std::string();
    if (!it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto number = [&d](const char* key) -> std::optional<int64_t> {
    auto it = d.find(key);
    if (it == d.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  const std::optional<std::string> verdict = text("verdict");
  const std::optional<Verdict> v =
      verdict ? ParseVerdict(*verdict) : std::nullopt;
  const std::optional<std::string> comment = text("comment");
  const std::optional<std::string> relay = text("relay");
  const std::optional<std::string> platform_user = text("platform_user");
  const std::optional<int64_t> approvals = number("approvals");
  const std::optional<int64_t> required = number("approvals_required");
  if (!v || !comment || !relay || !platform_user || !approvals || !required) {
    return std::nullopt;
  }
  ReviewedDetails out;
  out.review = Review{std::string(actor), *v,     *comment,
                      occurred_at,        *relay, *platform_user};
  out.approvals_missing =
      static_cast<int>(std::max<int64_t>(0, *required - *approvals));
  return out;
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

std::string RefusalDetails(absl::string_view reason, Verdict v,
                           absl::string_view relay,
                           absl::string_view platform_user) {
  Json d = {{"reason", std::string(reason)},
            {"verdict", std::string(VerdictName(v))}};
  AddRelay(d, relay, platform_user);
  return d.dump();
}

std::string CancelDetails(absl::string_view reason) {
  Json d = {{"reason", std::string(reason)}};
  return d.dump();
}

std::string EscalationDetails(const Approval& a) {
  Json d = {{"rule", a.requirement.rule},
            {"escalate_to", a.requirement.escalate_to},
            {"escalate_after_us",
             absl::ToInt64Microseconds(a.requirement.escalate_after)},
            {"approvals", ApproveCount(a)},
            {"approvals_required", a.requirement.approvals_required}};
  return d.dump();
}

std::string ExpiryDetails(absl::Time expires_at) {
  Json d = {{"expires_at", FormatTimestamp(expires_at)}};
  return d.dump();
}

}  // namespace approval
