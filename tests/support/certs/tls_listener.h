// TlsListener: the TLS side of the tests' loopback HTTPS servers (the JWKS
// server of an IdP, the webhook receiver). It listens on 127.0.0.1 at a port
// the OS chooses, accepts on a thread of its own, and serves each
// connection on a thread of its own: with 5-second socket timeouts (a
// stalled client cannot wedge a test for long), the TLS handshake with
// `server`'s certificate, then the handler with the TLS session, the socket
// and the connection's number (1, 2, ...). After the handler returns the
// session is freed and the socket closed.
//
// Stop() (idempotent; also on destruction) stops accepting and joins every
// connection thread, so the owner first makes its handlers return (its own
// "stopping" flag), then calls Stop() before its members go.
#ifndef APPROVAL_TESTS_SUPPORT_CERTS_TLS_LISTENER_H_
#define APPROVAL_TESTS_SUPPORT_CERTS_TLS_LISTENER_H_

#include <functional>
#include <thread>
#include <vector>

#include "tests/support/certs/test_certs.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace approval::testing {

class TlsListener final {
 public:
  using Handler = std::function<void(SSL* ssl, int fd, int connection)>;

  // Listens at once (`backlog` connections may wait); serves from Start().
  TlsListener(const KeyPair& server, int backlog);
  ~TlsListener();
  TlsListener(const TlsListener&) = delete;
  TlsListener& operator=(const TlsListener&) = delete;

  void Start(Handler handler);
  void Stop();

  int port() const { return port_; }

 private:
  void Accept();

  Handler handler_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
  std::vector<std::thread> connections_;  // touched by thread_ only
};

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_CERTS_TLS_LISTENER_H_
