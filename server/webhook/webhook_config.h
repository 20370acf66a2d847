// The `webhooks` section of the broker config: signed HTTPS endpoints that
// receive approval events (Standard Webhooks), read by the strict JSON reader
// and validated once at start-up.
//
//   "webhooks": {
//     "endpoints": [
//       {"name": "ticketing",                      // [a-z0-9_-], 1-64 bytes
//        "url": "https://tickets.example.org/hooks/approvals",  // https only
//        "event_types": ["created", "approved", "denied"],      // required
//        "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], // newest first
//        "ca_file": "",                            // "" = system CAs
//        "timeout": "10s"}
//     ],
//     "retry_horizon": "24h",
//     "initial_backoff": "1s",
//     "max_backoff": "10m",
//     "poll_interval": "1s"
//   }
//
// Secrets are never quoted in an error message, logged or printed.
#ifndef APPROVAL_SERVER_WEBHOOK_WEBHOOK_CONFIG_H_
#define APPROVAL_SERVER_WEBHOOK_WEBHOOK_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/common/json_reader.h"

namespace approval {

struct WebhookEndpoint {
  // Names the endpoint in webhook-id, metrics and the admin listing;
  // [a-z0-9_-], 1-64 bytes, unique. Required.
  std::string name;
  // "https://host[:port]/path". Required; http:// is refused.
  std::string url;
  // Event type names as in the audit log ("created", "reviewed",
  // "escalated", "approved", "denied", "expired", "cancelled"). Required,
  // non-empty.
  std::vector<std::string> event_types;
  // "whsec_<base64 of 24..64 random bytes>". Every delivery is signed with
  // each (webhook-signature carries one "v1,<sig>" per secret), so a
  // receiver may rotate: add the new one first, drop the old one later.
  // Required, 1..8 secrets.
  std::vector<std::string> secrets;
  // PEM CA bundle to verify the endpoint's certificate. Default "": the
  // system CAs. Relative paths resolve against the config file.
  std::string ca_file;
  // Bound on one delivery attempt (connect, TLS, request and response).
  // Default 10s, at most 60s.
  absl::Duration timeout = absl::Seconds(10);
};

struct WebhooksConfig {
  // Default: none (no dispatcher runs).
  std::vector<WebhookEndpoint> endpoints;
  // A delivery still failing this long after it was queued is marked failed
  // and not retried. Default 24h.
  absl::Duration retry_horizon = absl::Hours(24);
  // Delay before the first retry; each later retry doubles it, up to
  // max_backoff, with random jitter (50..100% of the delay). Default 1s.
  absl::Duration initial_backoff = absl::Seconds(1);
  // Default 10m.
  absl::Duration max_backoff = absl::Minutes(10);
  // How often each endpoint looks for new events and due retries when
  // nothing wakes it (local commits wake it at once). Default 1s.
  absl::Duration poll_interval = absl::Seconds(1);
};

// The JsonReader field reader of the section (for ReadConfig).
JsonReader::Read ReadWebhooksConfig(const JsonReader& r, WebhooksConfig* c);

// Checks names, URLs (https only), event types, secrets (whsec_ + base64 of
// 24..64 bytes), files readable, durations positive and ordered. Returns
// INVALID_ARGUMENT naming the dotted key (e.g.
// `webhooks.endpoints[0].url`); never quotes a secret.
absl::Status ValidateWebhooksConfig(const WebhooksConfig& c);

// The key bytes of a "whsec_<base64>" secret; INVALID_ARGUMENT (not quoting
// it) when malformed.
absl::StatusOr<std::string> DecodeWebhookSecret(absl::string_view secret);

}  // namespace approval

#endif  // APPROVAL_SERVER_WEBHOOK_WEBHOOK_CONFIG_H_
