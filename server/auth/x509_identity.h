// The identity of a verified mTLS client certificate: the leaf rules every
// client certificate must meet, and the identity it names (an X.509-SVID's
// SPIFFE ID, else its single URI SAN, else its subject CN). No roles: the
// authenticator maps the identity to them.
#ifndef APPROVAL_SERVER_AUTH_X509_IDENTITY_H_
#define APPROVAL_SERVER_AUTH_X509_IDENTITY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace approval {

// The identity of the leaf certificate `peer_cert_pem` (already verified
// against the client CA by TLS) at time `now`. `trust_domain` "" accepts any
// leaf (single URI SAN, else subject CN); otherwise the certificate must be
// an X.509-SVID of that trust domain (see Authenticator::
// AuthenticateCertificate for every rule). UNAUTHENTICATED, built by
// refusal.h, naming the rule that failed.
absl::StatusOr<std::string> CertificateIdentity(absl::string_view peer_cert_pem,
                                                absl::Time now,
                                                absl::string_view trust_domain);

// Certificate or claim text that is safe to use as an identity and to log:
// non-empty printable ASCII or UTF-8 without control characters or embedded
// NUL; spaces only with `allow_space` (CNs and claims, not URIs).
bool IsPrintableIdentity(absl::string_view s, bool allow_space);

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_X509_IDENTITY_H_
