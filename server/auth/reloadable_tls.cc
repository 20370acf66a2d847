#include "server/auth/reloadable_tls.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "grpc/grpc.h"
#include "openssl/bio.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"
#include "server/common/read_file.h"

namespace approval {
namespace {

constexpr size_t kMaxTlsFileBytes = 1024 * 1024;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Bio MemBio(absl::string_view pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate of a PEM bundle, in order.
std::vector<Cert> ParseCerts(absl::string_view pem) {
  std::vector<Cert> out;
  Bio bio = MemBio(pem);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(x);
  }
  return out;
}

absl::Status Bad(absl::string_view key, absl::string_view file,
                 absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", file, ": ", why));
}

absl::StatusOr<std::string> Read(absl::string_view key,
                                 const std::string& file) {
  absl::StatusOr<std::string> text = ReadFile(file, kMaxTlsFileBytes);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", text.status().message()));
  }
  return text;
}

std::string DerSha256Hex(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  X509_digest(cert, EVP_sha256(), digest, &size);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), size));
}

// Credentials whose handshakes ask `tls` for their material.
class FetcherCredentials final : public grpc::ServerCredentials {
 public:
  explicit FetcherCredentials(ReloadableTls* tls,
                              grpc_ssl_server_certificate_config_callback fetch)
      : tls_(tls), fetch_(fetch) {}

  void SetAuthMetadataProcessor(
      const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {}

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    grpc_ssl_server_credentials_options* options =
        grpc_ssl_server_credentials_create_options_using_config_fetcher(
            GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY, fetch_, tls_);
    grpc_server_credentials* creds =
        grpc_ssl_server_credentials_create_with_options(options);
    const int port = grpc_server_add_http2_port(server, addr.c_str(), creds);
    grpc_server_credentials_release(creds);
    return port;
  }

  ReloadableTls* const tls_;
  const grpc_ssl_server_certificate_config_callback fetch_;
};

}  // namespace

absl::StatusOr<TlsMaterial> LoadTlsMaterial(const TlsFiles& files) {
  TlsMaterial m;
  absl::StatusOr<std::string> cert = Read("tls.cert_file", files.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = Read("tls.key_file", files.key_file);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> ca =
      Read("tls.client_ca_file", files.client_ca_file);
  if (!ca.ok()) return ca.status();

  std::vector<Cert> chain = ParseCerts(*cert);
  if (chain.empty()) {
    return Bad("tls.cert_file", files.cert_file, "no PEM certificate");
  }
  if (X509_cmp_current_time(X509_get0_notBefore(chain.front().get())) >= 0 ||
      X509_cmp_current_time(X509_get0_notAfter(chain.front().get())) <= 0) {
    return Bad("tls.cert_file", files.cert_file,
               "the certificate is outside its validity period");
  }
  Bio key_bio = MemBio(*key);
  Pkey pkey(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (pkey == nullptr) {
    return Bad("tls.key_file", files.key_file, "no PEM private key");
  }
  if (X509_check_private_key(chain.front().get(), pkey.get()) != 1) {
    return Bad(
        "tls.key_file", files.key_file,
        absl::StrCat("not the key of the certificate in ", files.cert_file));
  }
  if (ParseCerts(*ca).empty()) {
    return Bad("tls.client_ca_file", files.client_ca_file,
               "no PEM certificate");
  }
  m.cert_chain_pem = *std::move(cert);
  m.key_pem = *std::move(key);
  m.client_ca_pem = *std::move(ca);
  return m;
}

absl::StatusOr<std::unique_ptr<ReloadableTls>> ReloadableTls::Create(
    const TlsFiles& files) {
  absl::StatusOr<TlsMaterial> material = LoadTlsMaterial(files);
  if (!material.ok()) return material.status();
  return std::unique_ptr<ReloadableTls>(
      new ReloadableTls(*std::move(material)));
}

ReloadableTls::ReloadableTls(TlsMaterial material)
    : material_(std::move(material)) {}

std::shared_ptr<grpc::ServerCredentials> ReloadableTls::credentials() {
  return std::make_shared<FetcherCredentials>(this, &ReloadableTls::Fetch);
}

absl::Status ReloadableTls::Reload(const TlsFiles& files) {
  absl::StatusOr<TlsMaterial> material = LoadTlsMaterial(files);
  if (!material.ok()) return material.status();
  absl::MutexLock lock(&mu_);
  material_ = *std::move(material);
  ++generation_;
  return absl::OkStatus();
}

std::string ReloadableTls::LeafFingerprint() const {
  absl::MutexLock lock(&mu_);
  std::vector<Cert> chain = ParseCerts(material_.cert_chain_pem);
  return chain.empty() ? std::string() : DerSha256Hex(chain.front().get());
}

grpc_ssl_certificate_config_reload_status ReloadableTls::Fetch(
    void* user_data, grpc_ssl_server_certificate_config** config) {
  auto* self = static_cast<ReloadableTls*>(user_data);
  absl::MutexLock lock(&self->mu_);
  if (self->fetched_generation_ == self->generation_) {
    return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
  }
  const grpc_ssl_pem_key_cert_pair pair = {
      self->material_.key_pem.c_str(), self->material_.cert_chain_pem.c_str()};
  // Copies the strings.
  *config = grpc_ssl_server_certificate_config_create(
      self->material_.client_ca_pem.c_str(), &pair, 1);
  self->fetched_generation_ = self->generation_;
  return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
}

}  // namespace approval
