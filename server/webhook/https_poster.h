// PostWebhook: one HTTPS POST of a webhook delivery with libcurl: https
// only, the peer's certificate and host name verified (against ca_file, or
// the system CAs), redirects never followed, the whole attempt bounded by
// `timeout`, at most kMaxWebhookResponseBytes of the answer read.
// Thread-safe (one curl handle per call).
#ifndef APPROVAL_SERVER_WEBHOOK_HTTPS_POSTER_H_
#define APPROVAL_SERVER_WEBHOOK_HTTPS_POSTER_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace approval {

inline constexpr size_t kMaxWebhookResponseBytes = 64 * 1024;

struct WebhookPost {
  std::string url;
  std::string ca_file;  // "" = system CAs
  absl::Duration timeout = absl::Seconds(10);
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent as application/json
};

// The HTTP status the endpoint answered with (any status: the caller
// decides what is success), or UNAVAILABLE saying why no answer came
// (connection, TLS verification, timeout), never quoting a header.
absl::StatusOr<int> PostWebhook(const WebhookPost& post);

}  // namespace approval

#endif  // APPROVAL_SERVER_WEBHOOK_HTTPS_POSTER_H_
