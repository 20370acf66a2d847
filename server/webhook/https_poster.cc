#include "server/webhook/https_poster.h"

#include "server/common/http_post.h"

namespace approval {

absl::StatusOr<int> PostWebhook(const WebhookPost& post) {
  HttpPostRequest request;
  request.url = post.url;
  request.ca_file = post.ca_file;
  request.timeout = post.timeout;
  request.headers = post.headers;
  request.body = post.body;
  request.max_response_bytes = kMaxWebhookResponseBytes;
  request.user_agent = "approval-broker-webhooks";
  absl::StatusOr<HttpResponse> response = HttpPost(request);
  if (!response.ok()) return response.status();
  return response->status;
}

}  // namespace approval
