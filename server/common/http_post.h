// HttpPost: one HTTP POST (or PUT) with libcurl, shared by the broker's webhook
// deliveries and approval-chat's calls to chat platforms. The peer's
// certificate and host name are always verified for https (against ca_file,
// or the system CAs); plain http is only sent when the caller allows it;
// redirects are never followed; the whole attempt is bounded by `timeout`;
// at most `max_response_bytes` of the answer are kept. Thread-safe (one curl
// handle per call); connections are kept alive and reused across calls to
// the same host with the same TLS settings.
#ifndef APPROVAL_SERVER_COMMON_HTTP_POST_H_
#define APPROVAL_SERVER_COMMON_HTTP_POST_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace approval {

struct HttpPostRequest {
  std::string url;
  std::string ca_file;  // "" = system CAs
  absl::Duration timeout = absl::Seconds(10);
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Default false: only https:// URLs are sent to.
  bool allow_http = false;
  size_t max_response_bytes = 64 * 1024;
  std::string user_agent = "approval-broker";
  // "POST" (default) or "PUT": the body is sent the same way.
  std::string method = "POST";
};

struct HttpResponse {
  int status = 0;
  std::string body;        // at most max_response_bytes
  bool truncated = false;  // the answer was longer than that
};

// The answer (any status: the caller decides what is success), or
// UNAVAILABLE saying why no answer came (scheme refused, connection, TLS
// verification, timeout), never quoting a header.
absl::StatusOr<HttpResponse> HttpPost(const HttpPostRequest& request);

}  // namespace approval

#endif  // APPROVAL_SERVER_COMMON_HTTP_POST_H_
