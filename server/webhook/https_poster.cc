#include "server/webhook/https_poster.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace approval {
namespace {

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Counts and drops the answer; stops the transfer past the bound.
size_t Discard(char*, size_t size, size_t count, void* user) {
  auto* received = static_cast<size_t*>(user);
  const size_t n = size * count;
  *received += n;
  if (*received > kMaxWebhookResponseBytes) return 0;
  return n;
}

}  // namespace

absl::StatusOr<int> PostWebhook(const WebhookPost& post) {
  if (!absl::StartsWith(post.url, "https://")) {
    return absl::UnavailableError("only https:// URLs are delivered to");
  }
  InitCurlOnce();
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (curl == nullptr) {
    return absl::UnavailableError("libcurl could not start a transfer");
  }
  std::unique_ptr<curl_slist, SlistFree> headers;
  auto add = [&headers](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next != nullptr) {
      (void)headers.release();
      headers.reset(next);
    }
  };
  add("Content-Type: application/json");
  add("Expect:");  // no 100-continue round trip
  for (const auto& [name, value] : post.headers) {
    add(absl::StrCat(name, ": ", value));
  }
  const long timeout_ms = static_cast<long>(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(post.timeout)));
  size_t received = 0;
  char error[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, post.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!post.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, post.ca_file.c_str());
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "approval-broker-webhooks");
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, post.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(post.body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Discard);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &received);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode result = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  // An answer too long to read still answered: its status decides.
  if (result == CURLE_WRITE_ERROR && received > kMaxWebhookResponseBytes &&
      status != 0) {
    return static_cast<int>(status);
  }
  if (result != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "no answer: ", error[0] != '\0' ? error : curl_easy_strerror(result)));
  }
  return static_cast<int>(status);
}

}  // namespace approval
