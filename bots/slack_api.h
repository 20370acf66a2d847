// The Slack Web API methods approval-chat calls (chat.postMessage,
// chat.update, chat.postEphemeral, views.open, and auth.test and
// conversations.history to find a message posted before a crash), as an
// interface so the app can be tested against a fake, and its implementation
// over HTTPS with libcurl.
#ifndef APPROVAL_BOTS_SLACK_API_H_
#define APPROVAL_BOTS_SLACK_API_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace approval::chat {

// One page of conversations.history.
struct SlackHistoryPage {
  nlohmann::json messages = nlohmann::json::array();  // newest first
  bool has_more = false;
  std::string next_cursor;  // "" when there is no next page
};

// Errors of every method: UNAVAILABLE when Slack could not be reached or
// answered 429/5xx (retry later); FAILED_PRECONDITION "<method>: <error>"
// when Slack answered {"ok": false, "error": ...} (retrying will not help).
// Implementations are thread-safe.
class SlackApi {
 public:
  virtual ~SlackApi() = default;
  // Posts `message` ({"text", "blocks"}, optionally "metadata") to
  // `channel`; the message's ts.
  virtual absl::StatusOr<std::string> PostMessage(
      const std::string& channel, const nlohmann::json& message) = 0;
  // Replaces the message `ts` in `channel` with `message`.
  virtual absl::Status UpdateMessage(const std::string& channel,
                                     const std::string& ts,
                                     const nlohmann::json& message) = 0;
  // Shows `text` to `user` only, in `channel`.
  virtual absl::Status PostEphemeral(const std::string& channel,
                                     const std::string& user,
                                     const std::string& text) = 0;
  // The bot id of our token (auth.test's bot_id); the messages it posts
  // carry it. FAILED_PRECONDITION when the answer has none.
  virtual absl::StatusOr<std::string> BotId() = 0;
  // One page of `channel`'s messages newer than `oldest`, with their
  // metadata (include_all_metadata), at most `limit`, from `cursor` ("": the
  // first page). Needs channels:history (groups:history for private
  // channels): without it FAILED_PRECONDITION "conversations.history:
  // missing_scope".
  virtual absl::StatusOr<SlackHistoryPage> History(const std::string& channel,
                                                   absl::Time oldest,
                                                   const std::string& cursor,
                                                   int limit) = 0;
  // Opens the modal `view` for the interaction `trigger_id` (views.open).
  virtual absl::Status OpenView(const std::string& trigger_id,
                                const nlohmann::json& view) = 0;
};

// `base_url` e.g. "https://slack.com/api" (http:// only when `allow_http`,
// which the config allows for loopback fakes only); `bot_token` the xoxb-
// token, sent as a bearer token and never logged.
std::unique_ptr<SlackApi> NewSlackWebApi(std::string base_url,
                                         std::string bot_token,
                                         std::string ca_file,
                                         absl::Duration timeout,
                                         bool allow_http);

}  // namespace approval::chat

#endif  // APPROVAL_BOTS_SLACK_API_H_
