// FakeSlack: a loopback stand-in for Slack's Web API (HTTP, port 0) that
// answers chat.postMessage, chat.update, chat.postEphemeral, views.open,
// auth.test and conversations.history with the shapes Slack documents ({"ok":
// true, "channel", "ts", ...};
// {"ok": false, "error": "invalid_auth"} for a wrong bot token) and records
// every call. Plus helpers that play Slack's side of an interaction: the
// signed block_actions request Slack sends when someone clicks a button, and
// the view_submission it sends when a dialog is submitted.
#ifndef APPROVAL_TESTS_SUPPORT_CHAT_FAKE_SLACK_H_
#define APPROVAL_TESTS_SUPPORT_CHAT_FAKE_SLACK_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

class CivetServer;

namespace approval::testing {

struct SlackCall {
  std::string method;         // "chat.postMessage", ...
  std::string authorization;  // the Authorization header as sent
  std::string raw_body;
  nlohmann::json body;    // parsed; null if not JSON
  nlohmann::json answer;  // chat.postMessage: what the fake answered (ts)
};

// Thread-safe; calls arrive on civetweb threads.
class FakeSlack final {
 public:
  // Accepts "Bearer <bot_token>" only.
  explicit FakeSlack(std::string bot_token);
  ~FakeSlack();

  // "http://127.0.0.1:<port>/api", the config's slack.api_base_url.
  std::string base_url() const;

  std::vector<SlackCall> Calls() const;
  std::vector<SlackCall> Calls(const std::string& method) const;
  // Waits up to `timeout` until `pred` holds for the calls so far; true if
  // it did.
  bool Await(const std::function<bool(const std::vector<SlackCall>&)>& pred,
             absl::Duration timeout) const;

  // The bot id of the fake's bot token: auth.test answers it, and the
  // messages chat.postMessage posts carry it.
  static constexpr char kBotId[] = "B0APPROVALBOT";

  // Runs `hook` for each chat.postMessage Slack accepted, after the message
  // is in the channel's history and before the answer is sent: the window
  // in which a crash leaves a posted message unrecorded.
  void OnPost(std::function<void(const SlackCall&)> hook);
  // Adds `message` (Slack's message object: "user" or "bot_id", "text",
  // "metadata"...) to `channel`'s history as posted by someone else, with
  // a new ts; that ts.
  std::string AddMessage(const std::string& channel, nlohmann::json message);
  // `channel`'s history, oldest first (with metadata).
  std::vector<nlohmann::json> Messages(const std::string& channel) const;
  // false: play an app installed without channels:history/groups:history
  // (conversations.history answers "missing_scope"). Default true.
  void set_history_scope(bool granted);
  // conversations.history answers at most `n` messages a page (Slack may
  // return fewer than `limit`). Default 100.
  void set_history_page_size(size_t n);
  // Message ts from `clock` ("<unix seconds>.<micros>", increasing) as
  // Slack makes them, instead of the fixed 1700000000.1000NN sequence.
  void set_ts_clock(std::function<absl::Time()> clock);

  // Used by the request handler.
  nlohmann::json Record(const std::string& method,
                        const std::string& authorization,
                        const std::string& body);
  void RunPostHook(const SlackCall& call);

  class Handler;

 private:
  const std::string bot_token_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<CivetServer> server_;
  mutable absl::Mutex mu_;
  std::vector<SlackCall> calls_ ABSL_GUARDED_BY(mu_);
  int next_ts_ ABSL_GUARDED_BY(mu_) = 1;
  std::string NextTs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  nlohmann::json History(const nlohmann::json& args) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::function<void(const SlackCall&)> post_hook_ ABSL_GUARDED_BY(mu_);
  // Per channel, oldest first.
  std::map<std::string, std::vector<nlohmann::json>> history_
      ABSL_GUARDED_BY(mu_);
  bool history_scope_ ABSL_GUARDED_BY(mu_) = true;
  size_t history_page_size_ ABSL_GUARDED_BY(mu_) = 100;
  std::function<absl::Time()> ts_clock_ ABSL_GUARDED_BY(mu_);
  int64_t last_ts_micros_ ABSL_GUARDED_BY(mu_) = 0;
};

// The body Slack sends when `user` of `team` clicks the button `action_id`
// whose value is `approval_id` on message `ts` in `channel`:
// "payload=<form-encoded block_actions JSON>".
std::string BlockActionsBody(const std::string& team, const std::string& user,
                             const std::string& action_id,
                             const std::string& approval_id,
                             const std::string& channel, const std::string& ts);

// The body Slack sends when `user` submits the Deny reason dialog whose
// private_metadata is `private_metadata` with `reason` typed in.
std::string ViewSubmissionBody(const std::string& team, const std::string& user,
                               const std::string& private_metadata,
                               const std::string& reason);

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string body;
};

// POSTs `body` to http://127.0.0.1:<port>/slack/interactions with Slack's
// X-Slack-Request-Timestamp (`timestamp`, Unix seconds) and X-Slack-Signature
// (`signature`; "" means: sign with `secret`).
HttpAnswer PostInteraction(int port, const std::string& body,
                           const std::string& secret, int64_t timestamp,
                           const std::string& signature = "");

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_CHAT_FAKE_SLACK_H_
