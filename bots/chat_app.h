// ChatApp: approval-chat's running parts. A thread follows the broker's
// StreamDecisions (no ids: every event, as an observer) from the stored
// cursor, posts a Slack message for each new approval that needs reviewers
// and updates it on every later event; an HTTP server (civetweb) takes
// Slack's interaction callbacks on /slack/interactions, verifies their
// signature and decides as the clicking person through the relay protocol
// (DecideRequest.platform_user "slack:<team>/<user>"). A refused click is
// answered with an ephemeral message saying why; the message itself only
// changes through the stream, so a click and a direct decision look alike.
//
// Teams works alike: a card is posted to the configured channel through the
// Bot Framework connector and updated from the stream; Teams posts activities
// to /teams/messages, each verified by its Bot Framework token, and an
// Action.Execute invoke decides as "teams:<tenant>/<aadObjectId>" and is
// answered with the card as it now stands (with why, when refused). Each
// platform keeps its own cursor; the stream resumes from the smallest.
//
// Before a Slack post it commits an intent and tags the message with
// metadata naming the approval: when a replay finds an intent but no
// recorded message (a crash between posting and recording), it adopts the
// message its bot posted (conversations.history) instead of posting again,
// and posts again only when that look-up fails (at least once, counted).
#ifndef APPROVAL_BOTS_CHAT_APP_H_
#define APPROVAL_BOTS_CHAT_APP_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bots/chat_config.h"
#include "bots/chat_state.h"
#include "bots/slack_api.h"
#include "bots/teams.h"

namespace prometheus {
class Registry;
}

namespace approval::chat {

// Everything ChatApp needs besides its config: the secrets read from their
// files, its platform client and state, and (for tests) a clock.
struct ChatDeps {
  std::string broker_token;  // "" when the relay authenticates by mTLS
  std::string slack_signing_secret;
  std::unique_ptr<SlackApi> slack;  // required when config.slack.enabled
  // Required when config.teams.enabled. teams_relay_token: the broker token
  // for Teams decisions; "" means broker_token.
  std::string teams_relay_token;
  std::unique_ptr<TeamsConnector> teams;
  std::unique_ptr<TeamsActivityVerifier> teams_verifier;
  std::unique_ptr<ChatState> state;  // required
  // Metrics go here when set (main's /metrics exposer serves it).
  std::shared_ptr<prometheus::Registry> registry;
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

class ChatApp final {
 public:
  // Starts the HTTP listener on config.listen and the stream follower.
  // INVALID_ARGUMENT when the broker TLS files cannot be read, UNAVAILABLE
  // when the listener cannot bind. `config` is copied.
  static absl::StatusOr<std::unique_ptr<ChatApp>> Start(
      const ChatConfig& config, ChatDeps deps);
  // Stops the listener and the follower (an event being applied finishes).
  ~ChatApp();
  ChatApp(const ChatApp&) = delete;
  ChatApp& operator=(const ChatApp&) = delete;

  // The port the HTTP listener bound.
  int http_port() const;
  // True once the broker has accepted the stream (the subscription is in
  // place), waiting up to `timeout`.
  bool AwaitStreaming(absl::Duration timeout);

  class Impl;

 private:
  explicit ChatApp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace approval::chat

#endif  // APPROVAL_BOTS_CHAT_APP_H_
