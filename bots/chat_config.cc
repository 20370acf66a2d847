#include "bots/chat_config.h"

#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/json_reader.h"
#include "server/common/read_file.h"

namespace approval::chat {
namespace {

using Field = JsonReader::Field;

bool ValidHostPort(absl::string_view s) {
  const size_t colon = s.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  int port = 0;
  return absl::SimpleAtoi(s.substr(colon + 1), &port) && port >= 0 &&
         port <= 65535;
}

// http:// to this machine. No user info in the authority (up to the first
// '/', '?' or '#'): in "http://127.0.0.1:80@elsewhere/" the host is
// "elsewhere".
bool LoopbackHttp(absl::string_view url) {
  const absl::string_view authority =
      url.substr(0, url.find_first_of("/?#", std::strlen("http://")));
  if (absl::StrContains(authority, '@')) return false;
  return absl::StartsWith(url, "http://127.0.0.1:") ||
         absl::StartsWith(url, "http://127.0.0.1/") ||
         absl::StartsWith(url, "http://localhost:") ||
         absl::StartsWith(url, "http://localhost/");
}

// The broker on this machine: the only place a bearer token may travel
// without TLS.
bool LoopbackHostPort(absl::string_view address) {
  return absl::StartsWith(address, "127.0.0.1:") ||
         absl::StartsWith(address, "localhost:") ||
         absl::StartsWith(address, "[::1]:");
}

bool HttpsOrLoopback(absl::string_view url) {
  return absl::StartsWith(url, "https://") || LoopbackHttp(url);
}

// Teams ids: tenant and app ids are GUIDs, the object id too; kept to a
// safe alphabet so they can be part of a platform identity.
bool ValidTeamsId(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '-') return false;
  }
  return true;
}

absl::Status ValidateTeams(const TeamsConfig& t, const JsonReader& r) {
  if (!ValidTeamsId(t.app_id)) {
    return r.Error("teams.app_id", "expected the bot's Microsoft App ID");
  }
  if (!ValidTeamsId(t.tenant_id)) {
    return r.Error("teams.tenant_id", "expected an Azure AD tenant id");
  }
  if (t.app_secret_file.empty()) {
    return r.Error("teams.app_secret_file", "required");
  }
  if (t.conversation_id.empty() || t.conversation_id.size() > 256) {
    return r.Error("teams.conversation_id", "required (at most 256 bytes)");
  }
  const std::pair<const char*, const std::string*> urls[] = {
      {"teams.service_url", &t.service_url},
      {"teams.openid_metadata_url", &t.openid_metadata_url},
      {"teams.token_url", &t.token_url}};
  for (const auto& [key, url] : urls) {
    if (!HttpsOrLoopback(*url)) {
      return r.Error(key,
                     "must be https:// (http:// only to 127.0.0.1 or "
                     "localhost)");
    }
  }
  if (!absl::StartsWith(t.openid_metadata_url, "https://")) {
    return r.Error("teams.openid_metadata_url", "must be https://");
  }
  if (t.issuer.empty()) return r.Error("teams.issuer", "required");
  if (t.max_body_bytes < 1024 || t.max_body_bytes > 1024 * 1024) {
    return r.Error("teams.max_body_bytes", "must lie in [1024, 1048576]");
  }
  if (t.clock_skew < absl::ZeroDuration() || t.clock_skew > absl::Minutes(10)) {
    return r.Error("teams.clock_skew", "must lie in [0, 10m]");
  }
  return absl::OkStatus();
}

absl::Status Validate(const ChatConfig& c, const JsonReader& r) {
  if (!ValidHostPort(c.broker.address)) {
    return r.Error("broker.address", "expected HOST:PORT");
  }
  if (c.broker.ca_file.empty() && !LoopbackHostPort(c.broker.address)) {
    return r.Error("broker.address",
                   "without broker.ca_file (TLS) only 127.0.0.1, localhost "
                   "or [::1]: the relay's credentials would cross the "
                   "network in plaintext");
  }
  if (!c.broker.cert_file.empty() && c.broker.ca_file.empty()) {
    return r.Error("broker.cert_file", "needs broker.ca_file (TLS)");
  }
  if (c.broker.cert_file.empty() != c.broker.key_file.empty()) {
    return r.Error("broker.key_file", "cert_file and key_file go together");
  }
  if (c.broker.token_file.empty() && c.broker.cert_file.empty()) {
    return r.Error("broker",
                   "needs token_file or cert_file: the relay must "
                   "authenticate");
  }
  if (c.broker.timeout <= absl::ZeroDuration()) {
    return r.Error("broker.timeout", "must be positive");
  }
  if (c.database_url.empty()) return r.Error("database_url", "required");
  if (!ValidHostPort(c.listen)) return r.Error("listen", "expected HOST:PORT");
  if (!c.metrics_listen.empty() && !ValidHostPort(c.metrics_listen)) {
    return r.Error("metrics_listen", "expected HOST:PORT or \"\"");
  }
  if (!c.slack.enabled && !c.teams.enabled) {
    return r.Error("slack", "configure slack, teams or both");
  }
  if (c.reconnect_backoff <= absl::ZeroDuration()) {
    return r.Error("reconnect_backoff", "must be positive");
  }
  if (c.teams.enabled) {
    if (absl::Status s = ValidateTeams(c.teams, r); !s.ok()) return s;
  }
  if (!c.slack.enabled) return absl::OkStatus();
  const SlackConfig& s = c.slack;
  if (!ValidSlackId(s.team_id)) {
    return r.Error("slack.team_id", "expected a Slack team id like T0123ABC");
  }
  if (!absl::StartsWith(s.api_base_url, "https://") &&
      !LoopbackHttp(s.api_base_url)) {
    return r.Error("slack.api_base_url",
                   "must be https:// (http:// only to 127.0.0.1 or "
                   "localhost)");
  }
  if (absl::EndsWith(s.api_base_url, "/")) {
    return r.Error("slack.api_base_url", "must not end with /");
  }
  for (size_t i = 0; i < s.routes.size(); ++i) {
    const SlackRoute& route = s.routes[i];
    const std::string at = absl::StrCat("slack.routes[", i, "]");
    if (route.rule.empty() == route.reviewer_group.empty()) {
      return r.Error(at, "set exactly one of rule and reviewer_group");
    }
    if (!ValidSlackId(route.channel)) {
      return r.Error(at + ".channel", "expected a Slack channel id");
    }
  }
  if (!s.default_channel.empty() && !ValidSlackId(s.default_channel)) {
    return r.Error("slack.default_channel", "expected a Slack channel id");
  }
  if (s.routes.empty() && s.default_channel.empty()) {
    return r.Error("slack", "needs routes or a default_channel");
  }
  if (s.max_body_bytes < 1024 || s.max_body_bytes > 1024 * 1024) {
    return r.Error("slack.max_body_bytes", "must lie in [1024, 1048576]");
  }
  if (s.timestamp_tolerance <= absl::ZeroDuration() ||
      s.timestamp_tolerance > absl::Minutes(5)) {
    return r.Error("slack.timestamp_tolerance", "must lie in (0, 5m]");
  }
  return absl::OkStatus();
}

std::string Resolve(const std::filesystem::path& dir, const std::string& f) {
  if (f.empty() || std::filesystem::path(f).is_absolute()) return f;
  return (dir / f).string();
}

}  // namespace

bool ValidSlackId(absl::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!absl::ascii_isupper(c) && !absl::ascii_isdigit(c)) return false;
  }
  return true;
}

absl::StatusOr<ChatConfig> ParseChatConfig(absl::string_view text,
                                           absl::string_view source) {
  const JsonReader r(source);
  absl::StatusOr<JsonReader::Json> doc = r.Parse(text);
  if (!doc.ok()) return doc.status();
  ChatConfig c;
  bool have_slack = false;
  const std::vector<Field> slack_fields = {
      {"team_id", r.String(&c.slack.team_id), true},
      {"bot_token_file", r.String(&c.slack.bot_token_file), true},
      {"signing_secret_file", r.String(&c.slack.signing_secret_file), true},
      {"api_base_url", r.String(&c.slack.api_base_url)},
      {"api_ca_file", r.String(&c.slack.api_ca_file)},
      {"routes", r.ObjectArray<SlackRoute>(
                     &c.slack.routes,
                     [&r](SlackRoute& route) -> std::vector<Field> {
                       return {
                           {"rule", r.String(&route.rule)},
                           {"reviewer_group", r.String(&route.reviewer_group)},
                           {"channel", r.String(&route.channel), true}};
                     })},
      {"default_channel", r.String(&c.slack.default_channel)},
      {"max_body_bytes", r.Size(&c.slack.max_body_bytes)},
      {"timestamp_tolerance", r.Duration(&c.slack.timestamp_tolerance)},
  };
  JsonReader::Read read_slack = r.Nested(slack_fields);
  TeamsConfig& t = c.teams;
  JsonReader::Read read_teams = r.Nested({
      {"app_id", r.String(&t.app_id), true},
      {"app_secret_file", r.String(&t.app_secret_file), true},
      {"tenant_id", r.String(&t.tenant_id), true},
      {"service_url", r.String(&t.service_url), true},
      {"conversation_id", r.String(&t.conversation_id), true},
      {"issuer", r.String(&t.issuer)},
      {"openid_metadata_url", r.String(&t.openid_metadata_url)},
      {"openid_ca_file", r.String(&t.openid_ca_file)},
      {"token_url", r.String(&t.token_url)},
      {"api_ca_file", r.String(&t.api_ca_file)},
      {"relay_token_file", r.String(&t.relay_token_file)},
      {"max_body_bytes", r.Size(&t.max_body_bytes)},
      {"clock_skew", r.Duration(&t.clock_skew)},
  });
  absl::Status s =
      r.Object(*doc, "",
               {{"broker",
                 r.Nested({{"address", r.String(&c.broker.address), true},
                           {"token_file", r.String(&c.broker.token_file)},
                           {"ca_file", r.String(&c.broker.ca_file)},
                           {"cert_file", r.String(&c.broker.cert_file)},
                           {"key_file", r.String(&c.broker.key_file)},
                           {"timeout", r.Duration(&c.broker.timeout)}}),
                 true},
                {"database_url", r.String(&c.database_url), true},
                {"listen", r.String(&c.listen)},
                {"metrics_listen", r.String(&c.metrics_listen)},
                {"reconnect_backoff", r.Duration(&c.reconnect_backoff)},
                {"slack",
                 [&](const JsonReader::Json& v, const std::string& path) {
                   have_slack = true;
                   return read_slack(v, path);
                 }},
                {"teams",
                 [&](const JsonReader::Json& v, const std::string& path) {
                   c.teams.enabled = true;
                   return read_teams(v, path);
                 }}});
  if (!s.ok()) return s;
  c.slack.enabled = have_slack;
  if (absl::Status v = Validate(c, r); !v.ok()) return v;
  return c;
}

absl::StatusOr<ChatConfig> LoadChatConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, 1024 * 1024);
  if (!text.ok()) return text.status();
  absl::StatusOr<ChatConfig> c = ParseChatConfig(*text, path);
  if (!c.ok()) return c.status();
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  for (std::string* f :
       {&c->broker.token_file, &c->broker.ca_file, &c->broker.cert_file,
        &c->broker.key_file, &c->slack.bot_token_file,
        &c->slack.signing_secret_file, &c->slack.api_ca_file,
        &c->teams.app_secret_file, &c->teams.openid_ca_file,
        &c->teams.api_ca_file, &c->teams.relay_token_file}) {
    *f = Resolve(dir, *f);
  }
  return c;
}

absl::StatusOr<std::string> ReadSecretFile(absl::string_view key,
                                           const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, 64 * 1024);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", text.status().message()));
  }
  std::string secret(absl::StripAsciiWhitespace(*text));
  if (secret.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", path, " is empty"));
  }
  return secret;
}

}  // namespace approval::chat
