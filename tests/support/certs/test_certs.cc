#include "tests/support/certs/test_certs.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>

namespace approval::testing {
namespace {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "test_certs: %s failed\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

Owned<EVP_PKEY> NewKey() {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  Check(key != nullptr, "EVP_EC_gen");
  return key;
}

std::string CertPem(X509* cert) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  Check(bio && PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string KeyPem(EVP_PKEY* key) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  Check(bio && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                        nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

Owned<X509> ParseCert(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  Check(cert != nullptr, "PEM_read_bio_X509");
  return cert;
}

Owned<EVP_PKEY> ParseKey(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Owned<EVP_PKEY> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  Check(key != nullptr, "PEM_read_bio_PrivateKey");
  return key;
}

// Adds an extension written in OpenSSL config syntax ("critical,CA:TRUE").
void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  Check(ext != nullptr, "X509V3_EXT_nconf_nid");
  Check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

struct AltName {
  int type;  // GEN_URI, GEN_DNS or GEN_IPADD
  std::string value;
};

// Built by hand rather than from config syntax so that any URI (commas
// included) can be a SAN.
void AddSubjectAltNames(X509* cert, const std::vector<AltName>& names,
                        bool critical) {
  if (names.empty()) return;
  Owned<GENERAL_NAMES> list(sk_GENERAL_NAME_new_null());
  Check(list != nullptr, "sk_GENERAL_NAME_new_null");
  for (const AltName& n : names) {
    GENERAL_NAME* name = GENERAL_NAME_new();
    Check(name != nullptr, "GENERAL_NAME_new");
    ASN1_STRING* value = nullptr;
    if (n.type == GEN_IPADD) {
      value = a2i_IPADDRESS(n.value.c_str());
    } else {
      value = ASN1_IA5STRING_new();
      Check(value != nullptr &&
                ASN1_STRING_set(value, n.value.data(),
                                static_cast<int>(n.value.size())) == 1,
            "ASN1_STRING_set");
    }
    Check(value != nullptr, "SAN value");
    GENERAL_NAME_set0_value(name, n.type, value);
    Check(sk_GENERAL_NAME_push(list.get(), name) > 0, "sk_GENERAL_NAME_push");
  }
  Check(X509_add1_ext_i2d(cert, NID_subject_alt_name, list.get(),
                          critical ? 1 : 0, X509V3_ADD_DEFAULT) == 1,
        "X509_add1_ext_i2d");
}

// A certificate for `key` named `cn`, unsigned, with serial, validity and
// issuer name set.
Owned<X509> NewCert(EVP_PKEY* key, const std::string& cn,
                    X509* issuer /* nullptr: self-signed */,
                    long valid_from_s = -60 * 60,
                    long valid_until_s = 24 * 60 * 60) {
  Owned<X509> cert(X509_new());
  Check(cert != nullptr, "X509_new");
  Check(X509_set_version(cert.get(), 2) == 1, "X509_set_version");

  unsigned char serial[16];
  Check(RAND_bytes(serial, sizeof(serial)) == 1, "RAND_bytes");
  serial[0] &= 0x7f;  // positive
  Owned<BIGNUM> bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  Check(bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())),
        "serial");

  Check(
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), valid_from_s) != nullptr,
      "notBefore");
  Check(
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), valid_until_s) != nullptr,
      "notAfter");
  Check(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");

  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (!cn.empty()) {
    Check(X509_NAME_add_entry_by_txt(
              subject, "CN", MBSTRING_UTF8,
              reinterpret_cast<const unsigned char*>(cn.data()),
              static_cast<int>(cn.size()), -1, 0) == 1,
          "subject CN");
  }
  Check(X509_set_issuer_name(
            cert.get(), issuer ? X509_get_subject_name(issuer) : subject) == 1,
        "X509_set_issuer_name");
  return cert;
}

// Signs `cert` with the CA, adding the key identifiers first.
void Sign(X509* cert, X509* issuer, EVP_PKEY* issuer_key) {
  AddExtension(cert, issuer, NID_subject_key_identifier, "hash");
  AddExtension(cert, issuer, NID_authority_key_identifier, "keyid:always");
  Check(X509_sign(cert, issuer_key, EVP_sha256()) > 0, "X509_sign");
}

struct LeafExtensions {
  // OpenSSL config syntax; "" leaves the extension out.
  std::string basic_constraints = "critical,CA:FALSE";
  std::string key_usage = "critical,digitalSignature,keyEncipherment";
  std::string extended_key_usage;
};

KeyPair IssueLeaf(const KeyPair& ca, const std::string& cn,
                  const std::vector<AltName>& sans,
                  const LeafExtensions& extensions,
                  long valid_from_s = -60 * 60,
                  long valid_until_s = 24 * 60 * 60) {
  Owned<X509> ca_cert = ParseCert(ca.cert_pem);
  Owned<EVP_PKEY> ca_key = ParseKey(ca.key_pem);
  Owned<EVP_PKEY> key = NewKey();
  Owned<X509> cert =
      NewCert(key.get(), cn, ca_cert.get(), valid_from_s, valid_until_s);
  const std::pair<int, const std::string*> wanted[] = {
      {NID_basic_constraints, &extensions.basic_constraints},
      {NID_key_usage, &extensions.key_usage},
      {NID_ext_key_usage, &extensions.extended_key_usage}};
  for (const auto& [nid, value] : wanted) {
    if (!value->empty()) {
      AddExtension(cert.get(), ca_cert.get(), nid, value->c_str());
    }
  }
  // RFC 5280: with an empty subject the SAN extension must be critical.
  AddSubjectAltNames(cert.get(), sans, /*critical=*/cn.empty());
  Sign(cert.get(), ca_cert.get(), ca_key.get());
  return KeyPair{CertPem(cert.get()), KeyPem(key.get())};
}

}  // namespace

TestPki::TestPki() {
  Owned<EVP_PKEY> key = NewKey();
  Owned<X509> cert = NewCert(key.get(), "Approval Broker Test CA", nullptr);
  AddExtension(cert.get(), cert.get(), NID_basic_constraints,
               "critical,CA:TRUE");
  AddExtension(cert.get(), cert.get(), NID_key_usage,
               "critical,keyCertSign,cRLSign");
  Sign(cert.get(), cert.get(), key.get());
  ca_ = KeyPair{CertPem(cert.get()), KeyPem(key.get())};
}

KeyPair TestPki::Server() const {
  LeafExtensions extensions;
  extensions.extended_key_usage = "serverAuth";
  return IssueLeaf(ca_, "localhost",
                   {{GEN_DNS, "localhost"}, {GEN_IPADD, "127.0.0.1"}},
                   extensions);
}

KeyPair TestPki::Client(std::vector<std::string> uri_sans,
                        std::string cn) const {
  ClientSpec spec;
  spec.uri_sans = std::move(uri_sans);
  spec.cn = std::move(cn);
  return Client(spec);
}

KeyPair TestPki::Client(const ClientSpec& spec) const {
  std::vector<AltName> sans;
  for (const std::string& uri : spec.uri_sans) sans.push_back({GEN_URI, uri});
  LeafExtensions extensions;
  extensions.basic_constraints =
      spec.ca ? "critical,CA:TRUE" : spec.basic_constraints;
  extensions.key_usage = spec.ca
                             ? "critical,digitalSignature,keyCertSign,cRLSign"
                             : spec.key_usage;
  extensions.extended_key_usage = spec.extended_key_usage;
  return IssueLeaf(ca_, spec.cn, sans, extensions, spec.valid_from_s,
                   spec.valid_until_s);
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = (std::filesystem::path(base && *base ? base : "/tmp") /
                         "approval-test-XXXXXX")
                            .string();
  Check(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;  // best effort: a leftover temp dir is harmless
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Write(absl::string_view name,
                           absl::string_view contents) const {
  const std::string file =
      (std::filesystem::path(path_) / std::string(name)).string();
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  Check(static_cast<bool>(out), "writing a temp file");
  return file;
}

PemFiles WriteKeyPair(const TempDir& dir, absl::string_view name,
                      const KeyPair& pair) {
  const std::string base(name);
  return PemFiles{dir.Write(base + ".crt", pair.cert_pem),
                  dir.Write(base + ".key", pair.key_pem)};
}

}  // namespace approval::testing
