#include "tests/support/certs/tls_listener.h"

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

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace approval::testing {
namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "tls_listener: %s failed\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

}  // namespace

TlsListener::TlsListener(const KeyPair& server, int backlog) {
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
  Check(::listen(listen_fd_, backlog) == 0, "listen");
  socklen_t len = sizeof(addr);
  Check(
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0,
      "getsockname");
  port_ = ntohs(addr.sin_port);
  Check(::pipe(wake_) == 0, "pipe");
}

TlsListener::~TlsListener() {
  Stop();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
  SSL_CTX_free(ctx_);
}

void TlsListener::Start(Handler handler) {
  handler_ = std::move(handler);
  thread_ = std::thread([this] { Accept(); });
}

void TlsListener::Stop() {
  if (!thread_.joinable()) return;
  const char stop = 'x';
  (void)!::write(wake_[1], &stop, 1);
  thread_.join();
  for (std::thread& t : connections_) t.join();
  connections_.clear();
}

void TlsListener::Accept() {
  int next_connection = 0;
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    const int connection = ++next_connection;
    connections_.emplace_back([this, fd, connection] {
      timeval timeout{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
      SSL* ssl = SSL_new(ctx_);
      if (ssl != nullptr) {
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) handler_(ssl, fd, connection);
        SSL_free(ssl);
      }
      ERR_clear_error();
      ::close(fd);
    });
  }
}

}  // namespace approval::testing
