// Where a JWT verifier gets the IdP's key set (JWKS document) from: a local
// file, or an https:// URL fetched with libcurl with the server certificate
// and host name verified. Implementations are thread-safe.
#ifndef APPROVAL_SERVER_AUTH_JWKS_SOURCE_H_
#define APPROVAL_SERVER_AUTH_JWKS_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace approval {

// Most bytes a JWKS document may have.
inline constexpr size_t kMaxJwksBytes = 1 << 20;

class JwksSource {
 public:
  virtual ~JwksSource() = default;

  // The current JWKS text. UNAVAILABLE when it cannot be had right now (the
  // file cannot be read, the server is unreachable, TLS verification fails,
  // an HTTP status other than 200, more than kMaxJwksBytes); the message
  // names the source and the cause. May block (bounded by the fetch
  // timeout): called from JwksCache's fetch thread, never from a caller's.
  virtual absl::StatusOr<std::string> Fetch() = 0;

  // "JWKS file /etc/idp/jwks.json" or "JWKS https://idp.example.org/certs":
  // for messages.
  virtual std::string Describe() const = 0;
};

// Reads `path` on every Fetch.
std::unique_ptr<JwksSource> NewFileJwksSource(std::string path);

// GETs `url` (https:// only; redirects are not followed) on every Fetch,
// verifying the server against `ca_file` (PEM; "" = the system's CAs), each
// fetch bounded by `timeout`.
std::unique_ptr<JwksSource> NewHttpsJwksSource(std::string url,
                                               std::string ca_file,
                                               absl::Duration timeout);

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_JWKS_SOURCE_H_
