#include "server/webhook/signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace approval {

std::string SignWebhook(absl::string_view key, absl::string_view id,
                        int64_t timestamp, absl::string_view body) {
  const std::string message = absl::StrCat(id, ".", timestamp, ".", body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()),
           message.size(), mac, &mac_len) == nullptr) {
    std::abort();  // HMAC-SHA256 over memory cannot fail
  }
  return absl::StrCat("v1,", absl::Base64Escape(absl::string_view(
                                 reinterpret_cast<const char*>(mac), mac_len)));
}

std::string WebhookSignatureHeader(const std::vector<std::string>& keys,
                                   absl::string_view id, int64_t timestamp,
                                   absl::string_view body) {
  std::string header;
  for (const std::string& key : keys) {
    if (!header.empty()) header += ' ';
    header += SignWebhook(key, id, timestamp, body);
  }
  return header;
}

}  // namespace approval
