#include "server/auth/jwks_source.h"

#include <curl/curl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/common/read_file.h"

namespace approval {
namespace {

class FileJwksSource final : public JwksSource {
 public:
  explicit FileJwksSource(std::string path) : path_(std::move(path)) {}

  absl::StatusOr<std::string> Fetch() override {
    absl::StatusOr<std::string> text = ReadFile(path_, kMaxJwksBytes);
    if (!text.ok()) {
      // Whatever went wrong, the keys are unavailable for now.
      return absl::UnavailableError(
          absl::StrCat("JWKS file ", text.status().message()));
    }
    return text;
  }

  std::string Describe() const override {
    return absl::StrCat("JWKS file ", path_);
  }

 private:
  const std::string path_;
};

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

// libcurl needs one process-wide initialisation before the first handle.
void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t Append(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t n = size * count;
  // Returning less than n makes libcurl abort with CURLE_WRITE_ERROR.
  if (body->size() + n > kMaxJwksBytes) return 0;
  body->append(data, n);
  return n;
}

class HttpsJwksSource final : public JwksSource {
 public:
  HttpsJwksSource(std::string url, std::string ca_file, absl::Duration timeout)
      : url_(std::move(url)), ca_file_(std::move(ca_file)), timeout_(timeout) {
    InitCurlOnce();
  }

  absl::StatusOr<std::string> Fetch() override {
    if (!absl::StartsWith(url_, "https://")) {
      return absl::UnavailableError(
          absl::StrCat(Describe(), ": only https:// URLs are fetched"));
    }
    std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
    if (curl == nullptr) {
      return absl::UnavailableError(
          absl::StrCat(Describe(), ": libcurl could not start a transfer"));
    }
    std::string body;
    char error[CURL_ERROR_SIZE] = {0};
    const long timeout_ms =
        static_cast<long>(absl::ToInt64Milliseconds(timeout_));
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!ca_file_.empty())
      curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    // No SIGALRM-based DNS timeouts: this runs on server threads.
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "approval-broker");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    const CURLcode result = curl_easy_perform(c);
    if (result != CURLE_OK) {
      if (result == CURLE_WRITE_ERROR) {
        return absl::UnavailableError(absl::StrCat(Describe(), ": larger than ",
                                                   kMaxJwksBytes, " bytes"));
      }
      return absl::UnavailableError(
          absl::StrCat(Describe(), ": ",
                       error[0] != '\0' ? error : curl_easy_strerror(result)));
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
      return absl::UnavailableError(
          absl::StrCat(Describe(), ": HTTP status ", status, ", expected 200"));
    }
    return body;
  }

  std::string Describe() const override { return absl::StrCat("JWKS ", url_); }

 private:
  const std::string url_;
  const std::string ca_file_;
  const absl::Duration timeout_;
};

}  // namespace

std::unique_ptr<JwksSource> NewFileJwksSource(std::string path) {
  return std::make_unique<FileJwksSource>(std::move(path));
}

std::unique_ptr<JwksSource> NewHttpsJwksSource(std::string url,
                                               std::string ca_file,
                                               absl::Duration timeout) {
  return std::make_unique<HttpsJwksSource>(std::move(url), std::move(ca_file),
                                           timeout);
}

}  // namespace approval
