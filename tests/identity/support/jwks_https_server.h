// JwksHttpsServer: a tiny HTTPS server on 127.0.0.1:<port chosen by the OS>
// that answers every GET with the current body (a JWKS), for tests of
// fetching, verifying and rotating the IdP's keys. One connection at a time,
// "Connection: close". Thread-safe setters; stops on destruction.
#ifndef APPROVAL_TESTS_IDENTITY_SUPPORT_JWKS_HTTPS_SERVER_H_
#define APPROVAL_TESTS_IDENTITY_SUPPORT_JWKS_HTTPS_SERVER_H_

#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "tests/support/certs/test_certs.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace approval::testing {

class JwksHttpsServer final {
 public:
  // Serves TLS with `server` (certificate for localhost / 127.0.0.1).
  explicit JwksHttpsServer(const KeyPair& server);
  ~JwksHttpsServer();
  JwksHttpsServer(const JwksHttpsServer&) = delete;
  JwksHttpsServer& operator=(const JwksHttpsServer&) = delete;

  // https://127.0.0.1:<port>/jwks.json
  std::string url() const;

  void SetBody(std::string body);
  void SetStatus(int status);  // default 200
  // Requests answered so far (complete TLS handshake and request).
  int requests() const;

 private:
  void Serve();
  void Handle(int fd);

  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;

  mutable absl::Mutex mu_;
  std::string body_ ABSL_GUARDED_BY(mu_);
  int status_ ABSL_GUARDED_BY(mu_) = 200;
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_IDENTITY_SUPPORT_JWKS_HTTPS_SERVER_H_
