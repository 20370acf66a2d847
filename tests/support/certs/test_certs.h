// Throw-away X.509 material for TLS and mTLS tests, generated in memory at
// test time so that no private key is ever committed.
//
// Keys are EC P-256, certificates are valid from one hour ago for one day.
// Failures inside OpenSSL are impossible states in a test and abort with a
// message rather than return a status.
#ifndef APPROVAL_TESTS_SUPPORT_CERTS_TEST_CERTS_H_
#define APPROVAL_TESTS_SUPPORT_CERTS_TEST_CERTS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace approval::testing {

// A PEM certificate and its PEM (PKCS#8) private key.
struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

// A client certificate to issue, for tests of what must be refused.
struct ClientSpec {
  std::vector<std::string> uri_sans;  // one URI SAN each; none: no SAN
  std::string cn;                     // "": empty subject
  // basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign (a CA
  // certificate presented as a client certificate). Overrides
  // basic_constraints and key_usage.
  bool ca = false;
  // The extensions, in OpenSSL config syntax ("critical,CA:TRUE",
  // "digitalSignature,cRLSign"); "" leaves the extension out. Defaults: a
  // well-formed X.509-SVID leaf.
  std::string basic_constraints = "critical,CA:FALSE";
  std::string key_usage = "critical,digitalSignature,keyEncipherment";
  std::string extended_key_usage = "clientAuth";
  // Validity relative to now, in seconds. Default: from an hour ago for a
  // day. Both negative: expired.
  long valid_from_s = -60 * 60;
  long valid_until_s = 24 * 60 * 60;
};

// A fresh certificate authority and the leaf certificates it signs. Two
// TestPki objects do not trust each other. Thread-compatible.
class TestPki final {
 public:
  TestPki();

  // The self-signed CA (basicConstraints CA:TRUE): its cert_pem is what a
  // peer configures as root / client CA.
  const KeyPair& ca() const { return ca_; }

  // A server certificate: CN=localhost, SANs DNS:localhost and IP:127.0.0.1,
  // extendedKeyUsage serverAuth.
  KeyPair Server() const;

  // A client certificate (extendedKeyUsage clientAuth) with one URI SAN per
  // element of `uri_sans` (none: no SAN extension) and subject CN `cn`
  // ("": empty subject).
  KeyPair Client(std::vector<std::string> uri_sans, std::string cn) const;

  // A client certificate as `spec` says.
  KeyPair Client(const ClientSpec& spec) const;

 private:
  KeyPair ca_;
};

// A directory under $TMPDIR (else /tmp), removed with its contents on
// destruction. For code that reads certificates, keys or configs from files.
class TempDir final {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes `contents` to path()/`name` (replacing it) and returns that path.
  std::string Write(absl::string_view name, absl::string_view contents) const;

 private:
  std::string path_;
};

struct PemFiles {
  std::string cert_file;
  std::string key_file;
};

// Writes `pair` to `dir` as <name>.crt and <name>.key.
PemFiles WriteKeyPair(const TempDir& dir, absl::string_view name,
                      const KeyPair& pair);

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_CERTS_TEST_CERTS_H_
