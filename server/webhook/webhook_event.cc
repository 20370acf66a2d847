#include "server/webhook/webhook_event.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace approval {
namespace {

using Json = nlohmann::ordered_json;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

Json ApprovalJson(const Approval& a) {
  Json reviews = Json::array();
  for (const Review& r : a.reviews) {
    reviews.push_back({{"reviewer", r.reviewer},
                       {"verdict", VerdictName(r.verdict)},
                       {"comment", r.comment},
                       {"reviewed_at", Rfc3339(r.reviewed_at)}});
  }
  // The preview is canonical JSON written by the broker; embed it as an
  // object, or as its text should it ever not parse.
  Json preview = Json::parse(a.parameters_preview, nullptr, false);
  if (preview.is_discarded()) preview = a.parameters_preview;
  return {
      {"id", a.id},
      {"action", a.action},
      {"resource", a.resource},
      {"parameters_preview", std::move(preview)},
      {"justification", a.justification},
      {"requester", a.requester},
      {"on_behalf_of", a.on_behalf_of},
      {"state", StateName(a.state)},
      {"created_at", Rfc3339(a.created_at)},
      {"expires_at", Rfc3339(a.expires_at)},
      {"decided_at",
       a.decided_at ? Json(Rfc3339(*a.decided_at)) : Json(nullptr)},
      {"decided_by", a.decided_by},
      {"decision_comment", a.decision_comment},
      {"rule", a.requirement.rule},
      {"approvals_required", a.requirement.approvals_required},
      {"escalate_to", a.requirement.escalate_to},
      {"escalated_at",
       a.escalated_at ? Json(Rfc3339(*a.escalated_at)) : Json(nullptr)},
      {"action_digest", a.action_digest},
      {"reviews", std::move(reviews)},
  };
}

}  // namespace

std::string WebhookEventBody(const ApprovalEvent& event) {
  const Json body = {
      {"type", absl::StrCat("approval.", EventTypeName(event.type))},
      {"timestamp", Rfc3339(event.occurred_at)},
      {"data",
       {{"seq", event.cursor},
        {"event", EventTypeName(event.type)},
        {"actor", event.actor},
        {"approval", ApprovalJson(event.approval)}}},
  };
  // Replace invalid UTF-8 rather than throw: masked text is the broker's own.
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string WebhookId(int64_t seq, absl::string_view endpoint) {
  return absl::StrCat("evt_", seq, "_", endpoint);
}

}  // namespace approval
