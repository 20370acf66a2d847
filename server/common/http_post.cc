#include "server/common/http_post.h"

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

// One connection cache, TLS session cache and DNS cache for every transfer
// of the process: a POST to a host this process posted to a moment ago
// reuses that connection (keep-alive) instead of a new TCP and TLS
// handshake. libcurl reuses a connection only for a transfer with the same
// host, port and TLS settings (ca_file, verification), so nothing weaker is
// ever reused. The share's locks make it safe across threads.
std::mutex share_locks[CURL_LOCK_DATA_LAST];

void LockShare(CURL*, curl_lock_data data, curl_lock_access, void*) {
  share_locks[data].lock();
}
void UnlockShare(CURL*, curl_lock_data data, void*) {
  share_locks[data].unlock();
}

CURLSH* Share() {
  static CURLSH* share = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLSH* sh = curl_share_init();
    if (sh == nullptr) return sh;
    curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, &LockShare);
    curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, &UnlockShare);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    return sh;
  }();
  return share;
}

struct Sink {
  size_t limit;
  HttpResponse* response;
};

// Keeps up to the limit; stops the transfer past it.
size_t Collect(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  std::string& body = sink->response->body;
  if (body.size() + n > sink->limit) {
    body.append(data, sink->limit - body.size());
    sink->response->truncated = true;
    return 0;
  }
  body.append(data, n);
  return n;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpPost(const HttpPostRequest& request) {
  const bool https = absl::StartsWith(request.url, "https://");
  if (!https &&
      !(request.allow_http && absl::StartsWith(request.url, "http://"))) {
    return absl::UnavailableError(request.allow_http
                                      ? "only http(s):// URLs are sent to"
                                      : "only https:// URLs are sent to");
  }
  CURLSH* share = Share();
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
  add(absl::StrCat("Content-Type: ", request.content_type));
  add("Expect:");  // no 100-continue round trip
  for (const auto& [name, value] : request.headers) {
    add(absl::StrCat(name, ": ", value));
  }
  const long timeout_ms = static_cast<long>(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(request.timeout)));
  HttpResponse response;
  Sink sink{request.max_response_bytes, &response};
  char error[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  if (share != nullptr) curl_easy_setopt(c, CURLOPT_SHARE, share);
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, https ? "https" : "http");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!request.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, request.ca_file.c_str());
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, request.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  if (request.method != "POST") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode result = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  // An answer too long to read still answered: its status decides.
  if (result == CURLE_WRITE_ERROR && response.truncated && status != 0) {
    return response;
  }
  if (result != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "no answer: ", error[0] != '\0' ? error : curl_easy_strerror(result)));
  }
  return response;
}

}  // namespace approval
