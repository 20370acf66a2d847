// The pure parts of approval-chat's Slack side, with no I/O: verifying the
// signature of a request Slack sends, reading an interaction payload,
// choosing the channel of an approval and rendering its Block Kit message.
#ifndef APPROVAL_BOTS_SLACK_H_
#define APPROVAL_BOTS_SLACK_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "approval/v1/approval.pb.h"
#include "bots/chat_config.h"
#include "nlohmann/json.hpp"

namespace approval::chat {

// Verifies Slack's request signing (api.slack.com/authentication/
// verifying-requests-from-slack): X-Slack-Signature is "v0=" + hex
// HMAC-SHA-256(signing secret, "v0:<X-Slack-Request-Timestamp>:<raw body>").
// Thread-safe.
class SlackSignatureVerifier final {
 public:
  SlackSignatureVerifier(std::string signing_secret, size_t max_body_bytes,
                         absl::Duration tolerance)
      : secret_(std::move(signing_secret)),
        max_body_bytes_(max_body_bytes),
        tolerance_(tolerance) {}

  // OK when the body is within the size limit, the timestamp within
  // `tolerance` of `now`, the signature matches (constant-time compare) and
  // has not been accepted before; the signature is then remembered until it
  // could no longer pass the window. Else, changing nothing:
  // RESOURCE_EXHAUSTED (body too large), UNAUTHENTICATED (missing or bad
  // header, stale timestamp, wrong signature) or ALREADY_EXISTS (replay).
  // Messages never quote the secret or the expected signature.
  absl::Status Verify(absl::string_view timestamp, absl::string_view signature,
                      absl::string_view body, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);

  // "v0=<hex>" for `timestamp` and `body` (tests and fakes sign with it).
  static std::string Sign(absl::string_view secret, absl::string_view timestamp,
                          absl::string_view body);

 private:
  const std::string secret_;
  const size_t max_body_bytes_;
  const absl::Duration tolerance_;
  absl::Mutex mu_;
  // Accepted signatures and when they stop mattering.
  std::map<std::string, absl::Time> seen_ ABSL_GUARDED_BY(mu_);
};

// One interaction of a person with an approval: a click on the Approve or
// Deny button (a block_actions payload), or the Deny reason dialog
// submitted (a view_submission payload).
struct SlackClick {
  enum class Kind { kButton, kDenyReason };
  Kind kind = Kind::kButton;
  std::string team_id;
  std::string user_id;
  std::string approval_id;  // the button's value / the dialog's metadata
  v1::Verdict verdict = v1::VERDICT_UNSPECIFIED;
  std::string channel_id;
  std::string message_ts;
  std::string trigger_id;  // kButton: opens the Deny reason dialog
  std::string comment;     // kDenyReason: the reason typed
};

// Action ids of the two buttons, and the Deny reason dialog's callback id
// and its input's block and action ids.
inline constexpr char kApproveActionId[] = "approval_approve";
inline constexpr char kDenyActionId[] = "approval_deny";
inline constexpr char kDenyReasonCallbackId[] = "approval_deny_reason";
inline constexpr char kDenyReasonBlockId[] = "reason";
inline constexpr char kDenyReasonActionId[] = "reason_input";

// Reads an interaction request body (application/x-www-form-urlencoded with
// one field `payload`, a JSON document). INVALID_ARGUMENT naming what is
// wrong for anything but a block_actions payload with exactly one action
// of ours, or a view_submission of our Deny reason dialog; UNIMPLEMENTED
// for other payload types (answered 200, ignored).
absl::StatusOr<SlackClick> ParseSlackInteraction(absl::string_view body);

// The channel `approval` goes to under `slack`'s routes (first match), else
// its default_channel; "" when it goes nowhere.
std::string ChannelFor(const v1::Approval& approval, const SlackConfig& slack);

// The chat.postMessage / chat.update fields `text` and `blocks` for
// `approval` as it stands: what, where, masked preview, justification,
// requester and on-behalf-of, rule and what it needs, expiry, reviews so
// far, and Approve/Deny buttons while it is PENDING; the outcome once it is
// not. Every text from the approval is escaped for mrkdwn and shortened to
// fit Slack's limits.
nlohmann::json RenderSlackMessage(const v1::Approval& approval);

// The Deny reason dialog (a views.open `view`) for `click`'s approval; its
// private_metadata carries the approval id and channel back on submit.
nlohmann::json RenderDenyReasonModal(const SlackClick& click);

// The metadata event type approval-chat tags its messages with.
inline constexpr char kApprovalEventType[] = "approval_broker_approval";

// chat.postMessage's `metadata` naming `approval_id`
// ({"event_type": kApprovalEventType, "event_payload": {"approval_id"}}):
// after a crash between posting and recording, the message is found again
// by it in conversations.history.
nlohmann::json SlackApprovalMetadata(const std::string& approval_id);

// The ts of the message for `approval_id` in `messages` (a
// conversations.history `messages` array, read with include_all_metadata):
// one posted by our bot (`bot_id`, from auth.test) whose metadata is
// SlackApprovalMetadata(approval_id). Messages of other bots or of people,
// even with the same metadata, never match. nullopt when none does.
std::optional<std::string> FindApprovalMessage(const nlohmann::json& messages,
                                               absl::string_view bot_id,
                                               absl::string_view approval_id);

// Text a refused click is answered with (ephemeral), from the broker's
// refusal.
std::string RefusalText(const absl::Status& refusal);

}  // namespace approval::chat

#endif  // APPROVAL_BOTS_SLACK_H_
