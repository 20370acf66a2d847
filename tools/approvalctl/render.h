// How approvalctl shows approvals and events: text for people, JSON for
// scripts. Pure functions of their arguments.
//
// Everything in an approval except its id and timestamps comes from the
// requesting agent. Text output passes it through Printable so that no
// terminal escape or bidirectional override can hide or reorder what a
// reviewer reads before deciding.
#ifndef APPROVAL_TOOLS_APPROVALCTL_RENDER_H_
#define APPROVAL_TOOLS_APPROVALCTL_RENDER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "approval/v1/approval.pb.h"
#include "google/protobuf/message.h"
#include "wire/approval_token.h"

namespace approval::ctl {

// `s` with control characters (C0, DEL, C1), Unicode bidirectional controls
// and invalid UTF-8 replaced by visible escapes (\x1b, \u202e).
std::string Printable(absl::string_view s);

// A coarse age for tables: "42s", "5m", "3h", "2d"; "0s" for negatives.
std::string FormatAge(absl::Duration d);

struct TableOptions {
  bool state = false;  // a STATE and a COMMENT (decision comment) column
  bool wide = false;   // also ON BEHALF OF, RULE, EXPIRES, DECIDED BY
  // The whole output for no approvals. Default "no approvals".
  std::string empty_text = "no approvals";
};

// Approvals as a table no wider than `width` columns (the id is never
// shortened; the parameters preview, always last, takes what is left, at
// least 16). APPROVALS is "approvals so far/approvals required", e.g. "1/2";
// REASON the request's justification. Empty cells show "-".
std::string ApprovalTable(const std::vector<v1::Approval>& approvals,
                          absl::Time now, int width,
                          const TableOptions& options);

// Every field of `a`, one per line: the requirement ("needs 2 of [groups]"
// or "from any reviewer", whether one DENY ends it), the reviews one per
// line, the approvals so far and still missing, the approval token when
// approved, and the parameters preview pretty-printed.
std::string ApprovalDetails(const v1::Approval& a, absl::Time now);

// The key for `approvalctl signing-key`: "# key_id: ..." and "# algorithm:
// ..." lines, then the PEM.
std::string SigningKeyText(const v1::SigningKey& key);

// A verified token's claims for people, one per line, the window relative
// to `now`.
std::string ClaimsText(const ApprovalClaims& c, absl::Time now);

// The claims as one JSON object (times in RFC 3339).
std::string ClaimsJson(const ApprovalClaims& c);

// Webhook deliveries (ListWebhookDeliveries) as a table no wider than
// `width`: EVENT (the audit seq), ENDPOINT, TYPE, APPROVAL, STATUS,
// ATTEMPTS, LAST (the last HTTP status, or "-"), AGE (since queued); `wide`
// adds WEBHOOK-ID, NEXT (next attempt, pending only), DELIVERED, and ERROR
// (the last error, last and shortened to fit). "no webhook deliveries" when
// there are none.
std::string WebhookDeliveryTable(
    const std::vector<v1::WebhookDelivery>& deliveries, absl::Time now,
    int width, bool wide);

// One line, starting with the cursor: "cursor 17  <time>  approved  <id>
// by alice  db.export postgres://prod/customers  \"ok\"".
std::string EventLine(const v1::DecisionEvent& e);

// The proto3 JSON mapping of `m` on one line, with the .proto field names
// and every field present. INTERNAL if protobuf cannot encode it.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& m);

// The same fields as ToJson, as block YAML (one "key: value" per line,
// lists as "- " items). Strings are plain only when no YAML reader could
// take them for anything else (a number, a boolean, null, a key); else
// double-quoted, with every control character escaped.
absl::StatusOr<std::string> ToYaml(const google::protobuf::Message& m);

}  // namespace approval::ctl

#endif  // APPROVAL_TOOLS_APPROVALCTL_RENDER_H_
