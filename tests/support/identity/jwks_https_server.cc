#include "tests/support/identity/jwks_https_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace approval::testing {
namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "jwks_https_server: %s failed\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

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

JwksHttpsServer::JwksHttpsServer(const KeyPair& server) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  Check(ctx_ != nullptr, "SSL_CTX_new");
  BIO* cert_bio = BIO_new_mem_buf(server.cert_pem.data(),
                                  static_cast<int>(server.cert_pem.size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  BIO* key_bio = BIO_new_mem_buf(server.key_pem.data(),
                                 static_cast<int>(server.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  Check(cert != nullptr && key != nullptr &&
            SSL_CTX_use_certificate(ctx_, cert) == 1 &&
            SSL_CTX_use_PrivateKey(ctx_, key) == 1,
        "server certificate");
  X509_free(cert);
  EVP_PKEY_free(key);

  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  Check(listen_fd_ >= 0, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  Check(
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0,
      "bind");
  Check(::listen(listen_fd_, 16) == 0, "listen");
  socklen_t len = sizeof(addr);
  Check(
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0,
      "getsockname");
  port_ = ntohs(addr.sin_port);
  Check(::pipe(wake_) == 0, "pipe");
  thread_ = std::thread([this] { Serve(); });
}

JwksHttpsServer::~JwksHttpsServer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  const char stop = 'x';
  (void)!::write(wake_[1], &stop, 1);
  thread_.join();
  for (std::thread& t : connections_) t.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
  SSL_CTX_free(ctx_);
}

std::string JwksHttpsServer::url() const {
  return absl::StrCat("https://127.0.0.1:", port_, "/jwks.json");
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

void JwksHttpsServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    connections_.emplace_back([this, fd] {
      Handle(fd);
      ::close(fd);
    });
  }
}

void JwksHttpsServer::Handle(int fd) {
  // A client that stalls must not wedge the server (or the test) for long.
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return;
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) == 1) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos &&
           request.size() < 16384) {
      const int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    if (request.find("\r\n\r\n") != std::string::npos) {
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
  }
  SSL_free(ssl);
  ERR_clear_error();
}

}  // namespace approval::testing
