// FakeSlack: a loopback stand-in for Slack's Web API (HTTP, port 0) that
// answers chat.postMessage, chat.update, chat.postEphemeral and views.open
// with the shapes Slack documents ({"ok": true, "channel", "ts", ...};
// {"ok": false, "error": "invalid_auth"} for a wrong bot token) and records
// every call. Plus helpers that play Slack's side of an interaction: the
// signed block_actions request Slack sends when someone clicks a button, and
// the view_submission it sends when a dialog is submitted.
#ifndef APPROVAL_TESTS_SUPPORT_CHAT_FAKE_SLACK_H_
#define APPROVAL_TESTS_SUPPORT_CHAT_FAKE_SLACK_H_

#include <functional>
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

  // Used by the request handler.
  nlohmann::json Record(const std::string& method,
                        const std::string& authorization,
                        const std::string& body);

  class Handler;

 private:
  const std::string bot_token_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<CivetServer> server_;
  mutable absl::Mutex mu_;
  std::vector<SlackCall> calls_ ABSL_GUARDED_BY(mu_);
  int next_ts_ ABSL_GUARDED_BY(mu_) = 1;
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
