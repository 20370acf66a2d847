// WebhookReceiver: a loopback HTTPS endpoint (127.0.0.1, port chosen by the
// OS) that receives webhook deliveries and checks each one's Standard
// Webhooks signature with its own code (OpenSSL HMAC and base64, not the
// broker's): a delivery is verified when one "v1,<sig>" entry of
// webhook-signature matches one of the receiver's secrets over
// "<webhook-id>.<webhook-timestamp>.<body>".
//
// Behaviours a test switches at any time: answer with a status (default
// 200), hold requests unanswered (a receiver that never answers), or answer
// 200 with an endless body. A thread per connection (TlsListener), which
// serves request after request while it answers (HTTP/1.1 keep-alive).
// Thread-safe; stops on destruction. Constructing one ignores SIGPIPE in the
// test process.
#ifndef APPROVAL_TESTS_SUPPORT_WEBHOOK_WEBHOOK_RECEIVER_H_
#define APPROVAL_TESTS_SUPPORT_WEBHOOK_WEBHOOK_RECEIVER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/certs/tls_listener.h"

typedef struct ssl_st SSL;

namespace approval::testing {

// One request as received.
struct ReceivedWebhook {
  std::string id;         // webhook-id
  std::string timestamp;  // webhook-timestamp
  std::string signature;  // webhook-signature
  std::string body;
  bool verified = false;  // signature matches one of the secrets
  int answered = 0;       // the status it got (0: none, held or endless)
  int connection = 0;     // which TCP connection carried it (1, 2, ...)
};

class WebhookReceiver final {
 public:
  enum class Mode {
    kAnswer,      // answer status() at once
    kHold,        // never answer (until Release or destruction)
    kEndlessBody  // 200 with a Content-Length of 1 GiB, written until the
                  // client stops reading
  };

  // Serves TLS with `server`; verifies signatures against `secrets`
  // ("whsec_<base64>").
  WebhookReceiver(const KeyPair& server, std::vector<std::string> secrets);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  // https://127.0.0.1:<port>/hooks
  std::string url() const;

  void SetStatus(int status);
  void SetMode(Mode mode);

  // Every request received so far, in arrival order.
  std::vector<ReceivedWebhook> received() const;
  // Requests answered with a 2xx status.
  std::vector<ReceivedWebhook> accepted() const;
  // Waits until `pred(received())` holds or `timeout` passed; true in the
  // first case.
  bool AwaitReceived(
      const std::function<bool(const std::vector<ReceivedWebhook>&)>& pred,
      absl::Duration timeout) const;
  // Waits for at least `n` requests answered 2xx.
  bool AwaitAccepted(size_t n, absl::Duration timeout) const;

 private:
  void Handle(SSL* ssl, int fd, int connection);
  // Waits until `fd` (or `ssl`'s buffer) has data; false once stopping.
  bool AwaitReadable(SSL* ssl, int fd) const;
  // The next whole request from `buffer` and the connection; false at EOF,
  // an error, a request over 4 MiB or when the receiver stops.
  bool ReadRequest(SSL* ssl, int fd, std::string& buffer,
                   ReceivedWebhook& r) const;
  void Hold(int fd) const;
  void WriteEndlessBody(SSL* ssl) const;
  bool Verify(const ReceivedWebhook& r) const;

  TlsListener listener_;  // stopped in the destructor, before the rest goes
  std::vector<std::string> keys_;  // decoded secrets

  mutable absl::Mutex mu_;
  std::vector<ReceivedWebhook> received_ ABSL_GUARDED_BY(mu_);
  int status_ ABSL_GUARDED_BY(mu_) = 200;
  Mode mode_ ABSL_GUARDED_BY(mu_) = Mode::kAnswer;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_WEBHOOK_WEBHOOK_RECEIVER_H_
