// The JSON body of a webhook delivery (documented in README "Webhooks"):
//
//   {"type": "approval.approved",            // "approval." + event type
//    "timestamp": "2026-12-01T20:10:44.123456Z",   // when the event happened
//    "data": {
//      "seq": 42,                            // the audit event's seq
//      "event": "approved", "actor": "alice",
//      "approval": {"id": "...", "action": "...", "resource": "...",
//                   "parameters_preview": {...},   // masked, never raw
//                   "justification": "...", "requester": "...",
//                   "on_behalf_of": "", "state": "approved",
//                   "created_at": "...", "expires_at": "...",
//                   "decided_at": "..." | null, "decided_by": "...",
//                   "decision_comment": "...", "rule": "...",
//                   "approvals_required": 1, "action_digest": "<hex>",
//                   "reviews": [{"reviewer": "...", "verdict": "approve",
//                                "comment": "...", "reviewed_at": "..."}]}}}
//
// The approval is the masked one reviewers see, as it stood when the event
// was queued (normally at once).
#ifndef APPROVAL_SERVER_WEBHOOK_WEBHOOK_EVENT_H_
#define APPROVAL_SERVER_WEBHOOK_WEBHOOK_EVENT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "server/domain/approval.h"

namespace approval {

// The body for `event` (compact JSON, UTF-8). Pure, thread-safe.
std::string WebhookEventBody(const ApprovalEvent& event);

// The stable webhook-id of the delivery of event `seq` to `endpoint`:
// "evt_<seq>_<endpoint>".
std::string WebhookId(int64_t seq, absl::string_view endpoint);

}  // namespace approval

#endif  // APPROVAL_SERVER_WEBHOOK_WEBHOOK_EVENT_H_
