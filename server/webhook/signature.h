// Standard Webhooks signatures (https://www.standardwebhooks.com):
//   webhook-signature: v1,<base64(HMAC-SHA256(key, id "." timestamp "." body))>
// one space-separated entry per secret, where key is the base64-decoded part
// of "whsec_<base64>". Pure functions, thread-safe.
#ifndef APPROVAL_SERVER_WEBHOOK_SIGNATURE_H_
#define APPROVAL_SERVER_WEBHOOK_SIGNATURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace approval {

// "v1,<sig>" for one decoded key.
std::string SignWebhook(absl::string_view key, absl::string_view id,
                        int64_t timestamp, absl::string_view body);

// The webhook-signature header: one "v1,<sig>" per key, space-separated, in
// the order of `keys`.
std::string WebhookSignatureHeader(const std::vector<std::string>& keys,
                                   absl::string_view id, int64_t timestamp,
                                   absl::string_view body);

}  // namespace approval

#endif  // APPROVAL_SERVER_WEBHOOK_SIGNATURE_H_
