#include "tests/support/identity/jwks_https_server.h"

#include <openssl/ssl.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace approval::testing {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    default:
      return "Error";
  }
}

}  // namespace

JwksHttpsServer::JwksHttpsServer(const KeyPair& server)
    : listener_(server, 16) {
  listener_.Start([this](SSL* ssl, int, int) { Handle(ssl); });
}

JwksHttpsServer::~JwksHttpsServer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;  // releases held requests
  }
  listener_.Stop();
}

std::string JwksHttpsServer::url() const {
  return absl::StrCat("https://127.0.0.1:", listener_.port(), "/jwks.json");
}

void JwksHttpsServer::SetBody(std::string body) {
  absl::MutexLock lock(&mu_);
  body_ = std::move(body);
}

void JwksHttpsServer::SetStatus(int status) {
  absl::MutexLock lock(&mu_);
  status_ = status;
}

int JwksHttpsServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void JwksHttpsServer::Hold() {
  absl::MutexLock lock(&mu_);
  held_ = true;
}

void JwksHttpsServer::Release() {
  absl::MutexLock lock(&mu_);
  held_ = false;
}

bool JwksHttpsServer::AwaitRequests(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto received = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return requests_ >= n;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&received), timeout);
}

int JwksHttpsServer::max_concurrent() const {
  absl::MutexLock lock(&mu_);
  return max_in_progress_;
}

void JwksHttpsServer::Handle(SSL* ssl) {
  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos &&
         request.size() < 16384) {
    const int n = SSL_read(ssl, buf, sizeof(buf));
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  if (request.find("\r\n\r\n") == std::string::npos) return;
  std::string body;
  int status;
  {
    absl::MutexLock lock(&mu_);
    ++requests_;
    ++in_progress_;
    max_in_progress_ = std::max(max_in_progress_, in_progress_);
    auto answer = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !held_ || stopping_;
    };
    mu_.Await(absl::Condition(&answer));
    --in_progress_;
    body = body_;
    status = status_;
  }
  const std::string response = absl::StrCat(
      "HTTP/1.1 ", status, " ", Reason(status),
      "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
      "\r\nConnection: close\r\n\r\n", body);
  SSL_write(ssl, response.data(), static_cast<int>(response.size()));
  SSL_shutdown(ssl);
}

}  // namespace approval::testing
