#include "tests/support/webhook/webhook_receiver.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace approval::testing {
namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "webhook_receiver: %s failed\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

// Standard base64 with OpenSSL's own codec (independent of the broker's).
std::string DecodeBase64(const std::string& in) {
  std::string out(3 * (in.size() / 4) + 3, '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(in.data()),
                      static_cast<int>(in.size()));
  Check(n >= 0, "base64 secret");
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts padding as zero bytes.
  if (!in.empty() && in.back() == '=') --len;
  if (in.size() > 1 && in[in.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

std::string EncodeBase64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

// Header `name` (lower-case) of the request head, "" if absent.
std::string Header(const std::string& head, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::AsciiStrToLower(line.substr(0, colon)) == name) {
      return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
  }
  return "";
}

}  // namespace

WebhookReceiver::WebhookReceiver(const KeyPair& server,
                                 std::vector<std::string> secrets)
    : listener_(server, 64) {
  // A client that hangs up mid-answer (the endless body) must cost the
  // writer an error, not the test process a SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  for (const std::string& s : secrets) {
    Check(absl::StartsWith(s, "whsec_"), "secret prefix");
    keys_.push_back(DecodeBase64(s.substr(6)));
  }
  listener_.Start([this](SSL* ssl, int fd, int connection) {
    Handle(ssl, fd, connection);
  });
}

WebhookReceiver::~WebhookReceiver() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;  // ends held and endless answers, and keep-alive
  }
  listener_.Stop();
}

std::string WebhookReceiver::url() const {
  return absl::StrCat("https://127.0.0.1:", listener_.port(), "/hooks");
}

void WebhookReceiver::SetStatus(int status) {
  absl::MutexLock lock(&mu_);
  status_ = status;
}

void WebhookReceiver::SetMode(Mode mode) {
  absl::MutexLock lock(&mu_);
  mode_ = mode;
}

std::vector<ReceivedWebhook> WebhookReceiver::received() const {
  absl::MutexLock lock(&mu_);
  return received_;
}

std::vector<ReceivedWebhook> WebhookReceiver::accepted() const {
  absl::MutexLock lock(&mu_);
  std::vector<ReceivedWebhook> out;
  for (const ReceivedWebhook& r : received_) {
    if (r.answered >= 200 && r.answered < 300) out.push_back(r);
  }
  return out;
}

bool WebhookReceiver::AwaitReceived(
    const std::function<bool(const std::vector<ReceivedWebhook>&)>& pred,
    absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [this, &pred]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pred(received_);
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

bool WebhookReceiver::AwaitAccepted(size_t n, absl::Duration timeout) const {
  return AwaitReceived(
      [n](const std::vector<ReceivedWebhook>& all) {
        size_t ok = 0;
        for (const ReceivedWebhook& r : all) {
          if (r.answered >= 200 && r.answered < 300) ++ok;
        }
        return ok >= n;
      },
      timeout);
}

bool WebhookReceiver::Verify(const ReceivedWebhook& r) const {
  const std::string message = absl::StrCat(r.id, ".", r.timestamp, ".", r.body);
  for (const std::string& key : keys_) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    Check(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
               reinterpret_cast<const unsigned char*>(message.data()),
               message.size(), mac, &mac_len) != nullptr,
          "HMAC");
    const std::string expected = EncodeBase64(mac, mac_len);
    for (absl::string_view entry : absl::StrSplit(r.signature, ' ')) {
      if (entry == absl::StrCat("v1,", expected)) return true;
    }
  }
  return false;
}

bool WebhookReceiver::AwaitReadable(SSL* ssl, int fd) const {
  for (;;) {
    if (SSL_pending(ssl) > 0) return true;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return false;
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 100);
    if (ready > 0) return true;
    if (ready < 0) return false;
  }
}

bool WebhookReceiver::ReadRequest(SSL* ssl, int fd, std::string& buffer,
                                  ReceivedWebhook& r) const {
  char buf[16384];
  for (;;) {
    const size_t head_end = buffer.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const std::string head = buffer.substr(0, head_end);
      size_t content_length = 0;
      absl::SimpleAtoi(Header(head, "content-length"), &content_length);
      if (buffer.size() >= head_end + 4 + content_length) {
        r.id = Header(head, "webhook-id");
        r.timestamp = Header(head, "webhook-timestamp");
        r.signature = Header(head, "webhook-signature");
        r.body = buffer.substr(head_end + 4, content_length);
        buffer.erase(0, head_end + 4 + content_length);
        return true;
      }
    }
    if (buffer.size() > (1 << 22)) return false;
    if (!AwaitReadable(ssl, fd)) return false;
    const int n = SSL_read(ssl, buf, sizeof(buf));
    if (n <= 0) return false;
    buffer.append(buf, static_cast<size_t>(n));
  }
}

void WebhookReceiver::Handle(SSL* ssl, int fd, int connection) {
  // Requests one after another on the connection (HTTP/1.1 keep-alive)
  // while the receiver answers them; held and endless answers end it.
  std::string buffer;
  for (;;) {
    ReceivedWebhook r;
    r.connection = connection;
    if (!ReadRequest(ssl, fd, buffer, r)) break;
    r.verified = Verify(r);
    Mode mode;
    int status;
    {
      absl::MutexLock lock(&mu_);
      mode = mode_;
      status = status_;
      if (mode == Mode::kAnswer) r.answered = status;
      received_.push_back(r);
    }
    if (mode == Mode::kHold) {
      Hold(fd);
      break;
    }
    if (mode == Mode::kEndlessBody) {
      WriteEndlessBody(ssl);
      break;
    }
    const std::string response =
        absl::StrCat("HTTP/1.1 ", status, " X\r\nContent-Length: 0\r\n\r\n");
    if (SSL_write(ssl, response.data(), static_cast<int>(response.size())) <=
        0) {
      break;
    }
  }
  SSL_shutdown(ssl);
}

void WebhookReceiver::Hold(int fd) const {
  // Never answer; wait (no thread burns) until the client gives up (the
  // socket reads EOF or errors) or the receiver stops.
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    pollfd p{fd, POLLIN, 0};
    // Anything readable (EOF, TLS alerts) means the client is closing.
    if (::poll(&p, 1, 100) > 0) return;
  }
}

void WebhookReceiver::WriteEndlessBody(SSL* ssl) const {
  const std::string headers =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
      "Content-Length: 1073741824\r\nConnection: close\r\n\r\n";
  SSL_write(ssl, headers.data(), static_cast<int>(headers.size()));
  const std::string chunk(16384, 'x');
  for (size_t sent = 0; sent < (size_t{1} << 30); sent += chunk.size()) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (SSL_write(ssl, chunk.data(), static_cast<int>(chunk.size())) <= 0) {
      return;
    }
  }
}

}  // namespace approval::testing
