// approval-chat's config file (bots/chat_config.h ParseChatConfig), a
// parser of its own beside the broker's (config_fuzzer).
//
// Input: the config file's text.
// Invariants: ParseChatConfig answers OK or INVALID_ARGUMENT prefixed with
// the source name; an accepted config serves Slack, Teams or both, within
// the documented bounds (body limits 1024..1048576, Slack timestamp
// tolerance (0, 5m], Teams clock skew [0, 10m]); every URL it will call is
// https:// or http:// to the host 127.0.0.1 or localhost (the host as curl
// reads it, after any user info), so no token leaves the machine in
// plaintext; the broker address without TLS is on loopback.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "bots/chat_config.h"
#include "fuzz/fuzz_check.h"

namespace {

// The host of an http:// URL per RFC 3986: the authority ends at the first
// '/', '?' or '#', the host follows the last '@' in it and ends at ':'.
std::string HttpHost(absl::string_view url) {
  absl::string_view rest = url.substr(7);
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  const size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) authority.remove_prefix(at + 1);
  return std::string(authority.substr(0, authority.find(':')));
}

void CheckUrl(const char* key, const std::string& url) {
  if (absl::StartsWith(url, "https://")) return;
  FUZZ_CHECK(absl::StartsWith(url, "http://"), "%s: %s accepted", key,
             url.c_str());
  const std::string host = HttpHost(url);
  FUZZ_CHECK(host == "127.0.0.1" || host == "localhost",
             "%s: %s accepted, plaintext to host \"%s\"", key, url.c_str(),
             host.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<approval::chat::ChatConfig> c =
      approval::chat::ParseChatConfig(text, "chat.json");
  if (!c.ok()) {
    FUZZ_CHECK(c.status().code() == absl::StatusCode::kInvalidArgument, "%s",
               c.status().ToString().c_str());
    FUZZ_CHECK(absl::StartsWith(c.status().message(), "chat.json"),
               "error without its source: %s", c.status().ToString().c_str());
    return 0;
  }
  FUZZ_CHECK(c->slack.enabled || c->teams.enabled, "neither platform");
  if (c->broker.ca_file.empty()) {
    FUZZ_CHECK(absl::StartsWith(c->broker.address, "127.0.0.1:") ||
                   absl::StartsWith(c->broker.address, "localhost:") ||
                   absl::StartsWith(c->broker.address, "[::1]:"),
               "plaintext broker %s", c->broker.address.c_str());
  }
  if (c->slack.enabled) {
    CheckUrl("slack.api_base_url", c->slack.api_base_url);
    FUZZ_CHECK(c->slack.max_body_bytes >= 1024 &&
                   c->slack.max_body_bytes <= 1024 * 1024,
               "slack.max_body_bytes %zu", c->slack.max_body_bytes);
    FUZZ_CHECK(c->slack.timestamp_tolerance > absl::ZeroDuration() &&
                   c->slack.timestamp_tolerance <= absl::Minutes(5),
               "slack.timestamp_tolerance");
    FUZZ_CHECK(!c->slack.routes.empty() || !c->slack.default_channel.empty(),
               "slack posts nowhere");
  }
  if (c->teams.enabled) {
    CheckUrl("teams.service_url", c->teams.service_url);
    CheckUrl("teams.token_url", c->teams.token_url);
    FUZZ_CHECK(absl::StartsWith(c->teams.openid_metadata_url, "https://"),
               "teams.openid_metadata_url %s",
               c->teams.openid_metadata_url.c_str());
    FUZZ_CHECK(c->teams.max_body_bytes >= 1024 &&
                   c->teams.max_body_bytes <= 1024 * 1024,
               "teams.max_body_bytes %zu", c->teams.max_body_bytes);
    FUZZ_CHECK(c->teams.clock_skew >= absl::ZeroDuration() &&
                   c->teams.clock_skew <= absl::Minutes(10),
               "teams.clock_skew");
  }
  return 0;
}
