#include "server/auth/x509_identity.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/auth/refusal.h"
#include "server/auth/spiffe_id.h"
#include "wire/openssl_ptr.h"

namespace approval {
namespace {

// Collects the URI SANs of `cert`. UNAUTHENTICATED when the extension is
// repeated or unparseable, or a URI is not printable.
absl::StatusOr<std::vector<std::string>> UriSans(X509* cert) {
  int crit = -1;
  OpenSslPtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  std::vector<std::string> uris;
  if (names == nullptr) {
    if (crit == -1) return uris;  // no SAN extension
    return Unauthenticated(
        "cert_malformed",
        "client certificate has a repeated or unparseable subjectAltName");
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    absl::string_view text(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
        static_cast<size_t>(ASN1_STRING_length(uri)));
    if (!IsPrintableIdentity(text, /*allow_space=*/false)) {
      return Unauthenticated(
          "cert_malformed",
          "client certificate has a URI SAN that is not a printable URI");
    }
    uris.emplace_back(text);
  }
  return uris;
}

// The single subject CN of `cert`, "" when it has none. UNAUTHENTICATED when
// it has several or one that is not printable UTF-8.
absl::StatusOr<std::string> CommonName(X509* cert) {
  const X509_NAME* subject = X509_get_subject_name(cert);
  if (subject == nullptr) return std::string();
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return std::string();
  if (X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0) {
    return Unauthenticated("cert_malformed",
                           "client certificate has several subject CNs");
  }
  const ASN1_STRING* data =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) {
    return Unauthenticated("cert_malformed",
                           "client certificate subject CN is not valid text");
  }
  std::string cn(reinterpret_cast<const char*>(utf8),
                 static_cast<size_t>(length));
  OPENSSL_free(utf8);
  if (!IsPrintableIdentity(cn, /*allow_space=*/true)) {
    return Unauthenticated(
        "cert_malformed",
        "client certificate subject CN is not printable text");
  }
  return cn;
}

// The validity period and leaf rules of a client certificate. Every client
// certificate must be a leaf: basicConstraints CA:TRUE makes a CA whatever
// its keyUsage says (X509_check_ca alone would call a CA:TRUE certificate
// without keyCertSign a leaf), and keyCertSign or cRLSign make a CA key
// whatever basicConstraints says. A keyUsage extension must allow
// digitalSignature (the TLS handshake signature), an extendedKeyUsage
// extension clientAuth. With `svid` (X.509-SVID, section 4.3 and 5.2)
// keyUsage must be present and critical.
absl::Status CheckLeaf(X509* cert, absl::Time now, bool svid) {
  time_t now_t = absl::ToTimeT(now);
  if (X509_cmp_time(X509_get0_notAfter(cert), &now_t) < 0) {
    return Unauthenticated("cert_expired", "client certificate has expired");
  }
  if (X509_cmp_time(X509_get0_notBefore(cert), &now_t) > 0) {
    return Unauthenticated("cert_not_yet_valid",
                           "client certificate is not valid yet");
  }
  // Also makes OpenSSL decode the extensions the checks below read.
  const uint32_t flags = X509_get_extension_flags(cert);
  if ((flags & EXFLAG_INVALID) != 0) {
    return Unauthenticated("cert_malformed",
                           "client certificate has a malformed or repeated "
                           "extension");
  }
  const bool has_key_usage = (flags & EXFLAG_KUSAGE) != 0;
  const uint32_t usage = has_key_usage ? X509_get_key_usage(cert) : 0;
  if ((flags & EXFLAG_CA) != 0 || X509_check_ca(cert) != 0 ||
      (usage & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) != 0) {
    return Unauthenticated(
        "cert_is_ca",
        "client certificate is a CA certificate (basicConstraints CA:TRUE, "
        "or keyUsage keyCertSign or cRLSign); present a leaf certificate");
  }
  if (svid && !has_key_usage) {
    return Unauthenticated(
        "cert_key_usage",
        "client certificate has no keyUsage extension; an X.509-SVID must "
        "have one");
  }
  if (svid) {
    const int index = X509_get_ext_by_NID(cert, NID_key_usage, -1);
    if (index < 0 ||
        X509_EXTENSION_get_critical(X509_get_ext(cert, index)) != 1) {
      return Unauthenticated(
          "cert_key_usage",
          "client certificate's keyUsage is not critical; an X.509-SVID's "
          "must be");
    }
  }
  if (has_key_usage && (usage & KU_DIGITAL_SIGNATURE) == 0) {
    return Unauthenticated(
        "cert_key_usage",
        "client certificate's keyUsage does not allow digitalSignature");
  }
  if ((flags & EXFLAG_XKUSAGE) != 0 && (X509_get_extended_key_usage(cert) &
                                        (XKU_SSL_CLIENT | XKU_ANYEKU)) == 0) {
    return Unauthenticated(
        "cert_ext_key_usage",
        "client certificate's extendedKeyUsage does not allow clientAuth");
  }
  return absl::OkStatus();
}

// Parses `pem` as one certificate; UNAUTHENTICATED when it does not parse.
absl::StatusOr<OpenSslPtr<X509>> ParseCertificate(absl::string_view pem) {
  if (pem.empty() || pem.size() > static_cast<size_t>(INT32_MAX)) {
    return Unauthenticated("cert_malformed", "client certificate is missing");
  }
  OpenSslPtr<BIO> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  OpenSslPtr<X509> cert(
      bio == nullptr ? nullptr
                     : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return Unauthenticated("cert_malformed",
                           "client certificate does not parse");
  }
  return cert;
}

// X.509-SVID: the single URI SAN is a SPIFFE ID of `trust_domain`.
absl::StatusOr<std::string> SvidIdentity(const std::vector<std::string>& uris,
                                         absl::string_view trust_domain) {
  if (uris.empty()) {
    return Unauthenticated(
        "cert_uri_san_count",
        "client certificate has no URI SAN; an X.509-SVID has exactly one");
  }
  const std::optional<SpiffeId> id = ParseSpiffeId(uris.front());
  if (!id || id->path.empty()) {
    return Unauthenticated(
        "cert_not_spiffe",
        "client certificate's URI SAN is not a SPIFFE ID with a path",
        absl::StrCat("URI SAN ", ForLog(uris.front())));
  }
  if (id->trust_domain != trust_domain) {
    return Unauthenticated(
        "cert_foreign_trust_domain",
        "client certificate belongs to a trust domain this broker does "
        "not accept",
        absl::StrCat("trust domain ", ForLog(id->trust_domain), ", configured ",
                     ForLog(trust_domain)));
  }
  return uris.front();
}

}  // namespace

bool IsPrintableIdentity(absl::string_view s, bool allow_space) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
    if (c == ' ' && !allow_space) return false;
  }
  return true;
}

absl::StatusOr<std::string> CertificateIdentity(
    absl::string_view peer_cert_pem, absl::Time now,
    absl::string_view trust_domain) {
  absl::StatusOr<OpenSslPtr<X509>> cert = ParseCertificate(peer_cert_pem);
  if (!cert.ok()) return cert.status();
  if (absl::Status s = CheckLeaf(cert->get(), now, !trust_domain.empty());
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<std::string>> uris = UriSans(cert->get());
  if (!uris.ok()) return uris.status();
  if (uris->size() > 1) {
    return Unauthenticated(
        "cert_uri_san_count",
        absl::StrCat("client certificate has ", uris->size(), " URI SANs (",
                     absl::StrJoin(*uris, ", "), "); expected one identity"));
  }
  if (!trust_domain.empty()) return SvidIdentity(*uris, trust_domain);
  if (uris->size() == 1) return uris->front();
  absl::StatusOr<std::string> cn = CommonName(cert->get());
  if (!cn.ok()) return cn.status();
  if (cn->empty()) {
    return Unauthenticated(
        "cert_no_identity",
        "client certificate has neither a URI SAN nor a subject CN");
  }
  return cn;
}

}  // namespace approval
