// approval-chat's configuration: one JSON file (comments allowed), read
// strictly like the broker's (server/common/json_reader.h): unknown keys,
// wrong types, missing required keys and bad values are start-up errors
// naming the key. Secrets (the broker token, the Slack bot token and signing
// secret, the Teams app secret) live in files the config names, never in the
// config itself. Relative file paths are relative to the config file's folder.
#ifndef APPROVAL_BOTS_CHAT_CONFIG_H_
#define APPROVAL_BOTS_CHAT_CONFIG_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace approval::chat {

// How approval-chat reaches the broker, as a relay and observer.
struct BrokerConnection {
  std::string address;     // required: HOST:PORT
  std::string token_file;  // "": no bearer token (mTLS identifies it)
  std::string ca_file;     // "": plaintext (loopback demos only)
  std::string cert_file;   // mTLS client certificate; needs ca_file
  std::string key_file;    // its key; with cert_file
  absl::Duration timeout = absl::Seconds(10);  // each unary call
};

// Where an approval is posted: the first route whose rule equals the
// approval's rule, or whose reviewer_group is among its reviewer groups.
// Exactly one of rule and reviewer_group is set.
struct SlackRoute {
  std::string rule;
  std::string reviewer_group;
  std::string channel;  // a Slack channel id, e.g. "C0123ABCD"
};

struct SlackConfig {
  // False when the config has no "slack" section (Teams only).
  bool enabled = true;
  // The workspace: the relay namespace is "slack:<team_id>" and the person
  // who clicks is "slack:<team_id>/<user id>". Required.
  std::string team_id;
  std::string bot_token_file;       // required: the xoxb- token
  std::string signing_secret_file;  // required: the app's signing secret
  // Slack's Web API. http:// only towards 127.0.0.1 or localhost (a fake).
  std::string api_base_url = "https://slack.com/api";
  std::string api_ca_file;  // "": system CAs
  std::vector<SlackRoute> routes;
  // For approvals no route matches; "": those are not posted.
  std::string default_channel;
  // Interaction requests: largest body accepted, and how far the signed
  // timestamp may be from now.
  size_t max_body_bytes = 64 * 1024;
  absl::Duration timestamp_tolerance = absl::Minutes(5);
};

// The Teams bot (Bot Framework). Set when the config has a "teams" section.
struct TeamsConfig {
  bool enabled = false;
  // The bot's Microsoft App ID: the audience of the tokens Teams sends and
  // the client_id of the connector's tokens. Required.
  std::string app_id;
  std::string app_secret_file;  // required: the client secret
  // The one Azure AD tenant whose users may decide: the relay namespace is
  // "teams:<tenant_id>", the person "teams:<tenant_id>/<aadObjectId>".
  std::string tenant_id;
  // Where approvals are posted: the connector service URL of the team
  // (e.g. "https://smba.trafficmanager.net/emea/") and the channel's
  // conversation id ("19:...@thread.tacv2"). Both required. http:// only
  // towards 127.0.0.1 or localhost (a fake), as for every URL here.
  std::string service_url;
  std::string conversation_id;
  // Inbound tokens: iss, and where the signing keys are listed.
  std::string issuer = "https://api.botframework.com";
  std::string openid_metadata_url =
      "https://login.botframework.com/v1/.well-known/openidconfiguration";
  std::string openid_ca_file;  // "": system CAs
  // Client-credentials tokens for the connector API.
  std::string token_url =
      "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token";
  std::string api_ca_file;  // connector and token endpoint; "": system CAs
  // The broker token of the relay allowed namespace teams:<tenant_id>, when
  // it is not the one in broker.token_file (a relay serves one namespace,
  // so an app serving Slack and Teams needs two). "": broker.token_file.
  std::string relay_token_file;
  // Largest activity accepted, and the tolerance on the token's exp/nbf.
  size_t max_body_bytes = 128 * 1024;
  absl::Duration clock_skew = absl::Minutes(5);
};

struct ChatConfig {
  BrokerConnection broker;
  std::string database_url;  // required: libpq URL, role approval_chat_app
  // HTTP listener for the platforms' callbacks (/slack/interactions,
  // /teams/messages) and
  // /healthz; put TLS in front of it. "HOST:PORT", port 0: any free port.
  std::string listen = "127.0.0.1:8080";
  // Prometheus /metrics; "" turns it off.
  std::string metrics_listen;
  // At least one of slack and teams.
  SlackConfig slack;
  TeamsConfig teams;
  // How long to wait before re-opening a broken broker stream.
  absl::Duration reconnect_backoff = absl::Seconds(1);
};

// Slack ids (team, channel, user): 1 to 32 upper-case letters and digits
// (T0123, C0ABC, U0456).
bool ValidSlackId(absl::string_view s);

// Parses and validates `text`; `source` (a file name) prefixes errors.
// INVALID_ARGUMENT "<source>: <key path>: <what>" on any problem.
absl::StatusOr<ChatConfig> ParseChatConfig(absl::string_view text,
                                           absl::string_view source);

// Reads `path`, parses it and resolves relative file names against its
// folder. Errors as ParseChatConfig, or the file's read error.
absl::StatusOr<ChatConfig> LoadChatConfig(const std::string& path);

// A secret file's contents without surrounding whitespace. INVALID_ARGUMENT
// naming `key` (never the contents) when unreadable or empty.
absl::StatusOr<std::string> ReadSecretFile(absl::string_view key,
                                           const std::string& path);

}  // namespace approval::chat

#endif  // APPROVAL_BOTS_CHAT_CONFIG_H_
