// Server TLS material that can be replaced while the server runs
// (certificate rotation on SIGHUP): the server certificate chain, its
// private key and the client CA bundle.
//
// gRPC's SSL server credentials ask a "certificate config fetcher" for new
// material at the start of every TLS handshake; this class is that fetcher.
// Reload() validates the new files first and only then hands them out, so a
// bad file never reaches a handshake: the previous material stays in force.
// Established connections keep the material they were set up with; every
// handshake after Reload returns uses the new material.
#ifndef APPROVAL_SERVER_AUTH_RELOADABLE_TLS_H_
#define APPROVAL_SERVER_AUTH_RELOADABLE_TLS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpc/grpc_security.h"
#include "grpcpp/security/server_credentials.h"

namespace approval {

// The three TLS files (as TlsConfig in server/config/config.h).
struct TlsFiles {
  std::string cert_file;       // PEM server certificate chain, leaf first
  std::string key_file;        // PEM private key of the leaf
  std::string client_ca_file;  // PEM CA bundle for client certificates
};

// PEM texts of TLS material that passed ValidateTlsMaterial.
struct TlsMaterial {
  std::string cert_chain_pem;
  std::string key_pem;
  std::string client_ca_pem;
};

// Reads and checks the three files: the chain parses and has at least one
// certificate, the leaf is within its validity period, the key parses and
// is the leaf's key, the CA bundle holds at least one certificate.
// INVALID_ARGUMENT naming the key ("tls.cert_file", ...) and file of the
// first problem; never quotes key material.
absl::StatusOr<TlsMaterial> LoadTlsMaterial(const TlsFiles& files);

// Thread-safe. Must outlive every server built with credentials().
class ReloadableTls final {
 public:
  // INVALID_ARGUMENT as LoadTlsMaterial.
  static absl::StatusOr<std::unique_ptr<ReloadableTls>> Create(
      const TlsFiles& files);

  ReloadableTls(const ReloadableTls&) = delete;
  ReloadableTls& operator=(const ReloadableTls&) = delete;

  // Server credentials that request a client certificate and, when one is
  // presented, verify it against the current client CA
  // (GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY), serving the current
  // certificate.
  std::shared_ptr<grpc::ServerCredentials> credentials();

  // Reads `files` (LoadTlsMaterial). On success handshakes from now on use
  // them; on failure nothing changes and the error is returned.
  absl::Status Reload(const TlsFiles& files);

  // SHA-256 (lower-case hex) of the DER of the leaf certificate handshakes
  // use now.
  std::string LeafFingerprint() const;

 private:
  explicit ReloadableTls(TlsMaterial material);

  // The gRPC fetcher callback; `user_data` is the ReloadableTls.
  static grpc_ssl_certificate_config_reload_status Fetch(
      void* user_data, grpc_ssl_server_certificate_config** config);

  mutable absl::Mutex mu_;
  TlsMaterial material_ ABSL_GUARDED_BY(mu_);
  // Bumped by every successful Reload; a fetch hands out new material when
  // it differs from fetched_generation_.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t fetched_generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_RELOADABLE_TLS_H_
