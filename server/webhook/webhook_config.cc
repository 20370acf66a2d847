#include "server/webhook/webhook_config.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/common/read_file.h"
#include "server/domain/approval.h"

namespace approval {
namespace {

using Json = JsonReader::Json;

constexpr absl::string_view kSecretPrefix = "whsec_";
constexpr size_t kMinSecretBytes = 24;
constexpr size_t kMaxSecretBytes = 64;
constexpr size_t kMaxSecrets = 8;
constexpr size_t kMaxNameBytes = 64;
constexpr absl::Duration kMaxTimeout = absl::Seconds(60);

// Secrets: an array of strings whose values never reach a message.
JsonReader::Read ReadSecrets(const JsonReader& r,
                             std::vector<std::string>* out) {
  return [&r, out](const Json& v, const std::string& path) {
    out->clear();
    if (!v.is_array()) {
      return r.Error(path, "expected an array of \"whsec_...\" strings");
    }
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string()) {
        return r.Error(absl::StrCat(path, "[", i, "]"),
                       "expected a \"whsec_...\" string (value not shown)");
      }
      out->push_back(v[i].get<std::string>());
    }
    return absl::OkStatus();
  };
}

std::vector<JsonReader::Field> EndpointFields(const JsonReader& r,
                                              WebhookEndpoint& e) {
  return {
      {"name", r.String(&e.name), true},
      {"url", r.String(&e.url), true},
      {"event_types", r.StringArray(&e.event_types), true},
      {"secrets", ReadSecrets(r, &e.secrets), true},
      {"ca_file", r.String(&e.ca_file)},
      {"timeout", r.Duration(&e.timeout)},
  };
}

absl::Status Invalid(absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", what));
}

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (char ch : name) {
    if (!absl::ascii_islower(ch) && !absl::ascii_isdigit(ch) && ch != '_' &&
        ch != '-') {
      return false;
    }
  }
  return true;
}

absl::Status CheckPositive(absl::string_view key, absl::Duration d) {
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return Invalid(key, absl::StrCat(absl::FormatDuration(d),
                                     " must be a positive, finite duration"));
  }
  return absl::OkStatus();
}

absl::Status ValidateEndpoint(const WebhookEndpoint& e,
                              const std::string& key) {
  if (!ValidName(e.name)) {
    return Invalid(absl::StrCat(key, ".name"),
                   absl::StrCat("\"", absl::CEscape(e.name),
                                "\" must be 1-64 bytes of [a-z0-9_-]"));
  }
  // The host must follow: "https://" alone, or "https:///x", is no URL.
  if (!absl::StartsWith(e.url, "https://") || e.url.size() <= 8 ||
      e.url[8] == '/') {
    return Invalid(absl::StrCat(key, ".url"),
                   absl::StrCat("\"", absl::CEscape(e.url),
                                "\" is not an https:// URL (webhooks are "
                                "only delivered over verified TLS)"));
  }
  for (char ch : e.url) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) {
      return Invalid(absl::StrCat(key, ".url"),
                     "contains a space or control character");
    }
  }
  if (e.event_types.empty()) {
    return Invalid(absl::StrCat(key, ".event_types"),
                   "name at least one event type");
  }
  for (size_t i = 0; i < e.event_types.size(); ++i) {
    const std::optional<EventType> t = ParseEventType(e.event_types[i]);
    if (!t.has_value() || *t == EventType::kDecisionRefused) {
      return Invalid(
          absl::StrCat(key, ".event_types[", i, "]"),
          absl::StrCat("\"", absl::CEscape(e.event_types[i]),
                       "\" is not an event type (created, reviewed, "
                       "escalated, approved, denied, expired, cancelled)"));
    }
  }
  if (e.secrets.empty() || e.secrets.size() > kMaxSecrets) {
    return Invalid(
        absl::StrCat(key, ".secrets"),
        absl::StrCat(e.secrets.size(), " secrets, expected 1..", kMaxSecrets));
  }
  for (size_t i = 0; i < e.secrets.size(); ++i) {
    absl::StatusOr<std::string> bytes = DecodeWebhookSecret(e.secrets[i]);
    if (!bytes.ok()) {
      return Invalid(absl::StrCat(key, ".secrets[", i, "]"),
                     bytes.status().message());
    }
  }
  if (!e.ca_file.empty()) {
    if (absl::Status s =
            CheckReadable(absl::StrCat(key, ".ca_file"), e.ca_file);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = CheckPositive(absl::StrCat(key, ".timeout"), e.timeout);
      !s.ok()) {
    return s;
  }
  if (e.timeout > kMaxTimeout) {
    return Invalid(
        absl::StrCat(key, ".timeout"),
        absl::StrCat(absl::FormatDuration(e.timeout), " is more than 60s"));
  }
  return absl::OkStatus();
}

}  // namespace

JsonReader::Read ReadWebhooksConfig(const JsonReader& r, WebhooksConfig* c) {
  return r.Nested({
      {"endpoints", r.ObjectArray<WebhookEndpoint>(&c->endpoints,
                                                   [&r](WebhookEndpoint& e) {
                                                     return EndpointFields(r,
                                                                           e);
                                                   })},
      {"retry_horizon", r.Duration(&c->retry_horizon)},
      {"initial_backoff", r.Duration(&c->initial_backoff)},
      {"max_backoff", r.Duration(&c->max_backoff)},
      {"poll_interval", r.Duration(&c->poll_interval)},
  });
}

absl::StatusOr<std::string> DecodeWebhookSecret(absl::string_view secret) {
  if (!absl::StartsWith(secret, kSecretPrefix)) {
    return absl::InvalidArgumentError(
        "must start with \"whsec_\" (value not shown)");
  }
  std::string bytes;
  if (!absl::Base64Unescape(secret.substr(kSecretPrefix.size()), &bytes)) {
    return absl::InvalidArgumentError(
        "is not \"whsec_\" followed by base64 (value not shown)");
  }
  if (bytes.size() < kMinSecretBytes || bytes.size() > kMaxSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "decodes to ", bytes.size(), " bytes, expected ", kMinSecretBytes, "..",
        kMaxSecretBytes, " (value not shown)"));
  }
  return bytes;
}

absl::Status ValidateWebhooksConfig(const WebhooksConfig& c) {
  std::set<std::string> names;
  for (size_t i = 0; i < c.endpoints.size(); ++i) {
    const std::string key = absl::StrCat("webhooks.endpoints[", i, "]");
    if (absl::Status s = ValidateEndpoint(c.endpoints[i], key); !s.ok()) {
      return s;
    }
    if (!names.insert(c.endpoints[i].name).second) {
      return Invalid(
          absl::StrCat(key, ".name"),
          absl::StrCat("\"", c.endpoints[i].name, "\" names two endpoints"));
    }
  }
  const std::pair<absl::string_view, absl::Duration> durations[] = {
      {"webhooks.retry_horizon", c.retry_horizon},
      {"webhooks.initial_backoff", c.initial_backoff},
      {"webhooks.max_backoff", c.max_backoff},
      {"webhooks.poll_interval", c.poll_interval},
  };
  for (const auto& [key, d] : durations) {
    if (absl::Status s = CheckPositive(key, d); !s.ok()) return s;
  }
  if (c.initial_backoff > c.max_backoff) {
    return Invalid("webhooks.initial_backoff",
                   absl::StrCat(absl::FormatDuration(c.initial_backoff),
                                " is greater than webhooks.max_backoff: ",
                                absl::FormatDuration(c.max_backoff)));
  }
  return absl::OkStatus();
}

}  // namespace approval
