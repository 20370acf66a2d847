// JwksHttpsServer: a tiny HTTPS server on 127.0.0.1:<port chosen by the OS>
// that answers every GET with the current body (a JWKS), for tests of
// fetching, verifying and rotating the IdP's keys. A thread per connection
// (TlsListener: concurrent fetches are seen as such), "Connection: close".
// It can be held, to play an IdP that is slow until the test says
// otherwise. Thread-safe; releases held requests and stops on destruction.
#ifndef APPROVAL_TESTS_SUPPORT_IDENTITY_JWKS_HTTPS_SERVER_H_
#define APPROVAL_TESTS_SUPPORT_IDENTITY_JWKS_HTTPS_SERVER_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/certs/tls_listener.h"

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
  // Requests received so far (complete TLS handshake and request), whether
  // answered yet or held.
  int requests() const;

  // While held, requests are received and counted but not answered until
  // Release() (then with the body and status current at that moment).
  void Hold();
  void Release();
  // Waits until `n` requests have been received or `timeout` has passed;
  // true in the first case.
  bool AwaitRequests(int n, absl::Duration timeout) const;
  // The most requests in progress (received, not yet answered) at once.
  int max_concurrent() const;

 private:
  void Handle(SSL* ssl);

  TlsListener listener_;  // stopped in the destructor, before the rest goes

  mutable absl::Mutex mu_;
  std::string body_ ABSL_GUARDED_BY(mu_);
  int status_ ABSL_GUARDED_BY(mu_) = 200;
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int in_progress_ ABSL_GUARDED_BY(mu_) = 0;
  int max_in_progress_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_IDENTITY_JWKS_HTTPS_SERVER_H_
