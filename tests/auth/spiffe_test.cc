// Client certificates as SPIFFE X.509-SVIDs (auth.spiffe), and the leaf
// rules that apply to every client certificate. The chain itself is
// verified by TLS (see identity_service_test.cc); these call
// Authenticator::AuthenticateCertificate with certificates made at test time.
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "server/auth/authenticator.h"
#include "server/domain/refusal_reason.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/identity/fake_clock.h"

namespace approval::testing {
namespace {

using Catch::Matchers::Contains;

constexpr char kAlice[] = "spiffe://corp.test/user/alice";

std::unique_ptr<Authenticator> SpiffeAuthenticator(
    std::function<absl::Time()> clock = nullptr) {
  AuthConfig config;
  config.spiffe.trust_domain = "corp.test";
  config.mtls_identities = {{kAlice, {Role::kReviewer}}};
  AuthenticatorOptions options;
  options.clock = std::move(clock);
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(config, options);
  REQUIRE(auth.ok());
  return *std::move(auth);
}

void CheckRefused(const absl::StatusOr<Principal>& p,
                  const std::string& reason) {
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK(RefusalReason(p.status()) == reason);
}

TEST_CASE("SVID: a leaf with one SPIFFE ID of the trust domain authenticates",
          "[identity][spiffe]") {
  TestPki pki;
  auto auth = SpiffeAuthenticator();
  absl::StatusOr<Principal> p =
      auth->AuthenticateCertificate(pki.Client({kAlice}, "").cert_pem);
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  CHECK(p->id == kAlice);
  CHECK(p->identity == kAlice);
  CHECK(p->method == "mtls");
  CHECK(p->roles == std::set<Role>{Role::kReviewer});
  // A CN beside the URI SAN changes nothing.
  CHECK(auth->AuthenticateCertificate(pki.Client({kAlice}, "alice").cert_pem)
            .ok());
}

TEST_CASE("SVID: a certificate with two URI SANs is refused",
          "[identity][spiffe]") {
  TestPki pki;
  auto auth = SpiffeAuthenticator();
  absl::StatusOr<Principal> p = auth->AuthenticateCertificate(
      pki.Client({kAlice, "spiffe://corp.test/user/mallory"}, "").cert_pem);
  CheckRefused(p, "cert_uri_san_count");
  CHECK_THAT(std::string(p.status().message()), Contains("2 URI SANs"));
}

TEST_CASE("SVID: a certificate without a URI SAN is refused, CN or not",
          "[identity][spiffe]") {
  TestPki pki;
  auto auth = SpiffeAuthenticator();
  CheckRefused(auth->AuthenticateCertificate(pki.Client({}, kAlice).cert_pem),
               "cert_uri_san_count");
}

TEST_CASE("SVID: a CA certificate is refused", "[identity][spiffe]") {
  TestPki pki;
  auto auth = SpiffeAuthenticator();
  ClientSpec spec;
  spec.uri_sans = {kAlice};
  spec.ca = true;
  CheckRefused(auth->AuthenticateCertificate(pki.Client(spec).cert_pem),
               "cert_is_ca");
  // The CA's own certificate too.
  CheckRefused(auth->AuthenticateCertificate(pki.ca().cert_pem), "cert_is_ca");
}

TEST_CASE("SVID: a foreign trust domain is refused", "[identity][spiffe]") {
  TestPki pki;
  auto auth = SpiffeAuthenticator();
  absl::StatusOr<Principal> p = auth->AuthenticateCertificate(
      pki.Client({"spiffe://evil.test/user/alice"}, "").cert_pem);
  CheckRefused(p, "cert_foreign_trust_domain");
  // The message does not tell an attacker which domain would do.
  CHECK_THAT(std::string(p.status().message()), !Contains("corp.test"));
  // A look-alike domain is another domain.
  CheckRefused(
      auth->AuthenticateCertificate(
          pki.Client({"spiffe://corp.test.evil/user/alice"}, "").cert_pem),
      "cert_foreign_trust_domain");
}

TEST_CASE("SVID: a URI that is not a SPIFFE ID with a path is refused",
          "[identity][spiffe]") {
  TestPki pki;
  auto auth = SpiffeAuthenticator();
  for (const char* uri :
       {"https://corp.test/user/alice", "spiffe://corp.test",
        "spiffe://corp.test/user/../admin", "SPIFFE://corp.test/user/alice",
        "spiffe://corp.test/user/alice?admin=1"}) {
    INFO(uri);
    CheckRefused(auth->AuthenticateCertificate(pki.Client({uri}, "").cert_pem),
                 "cert_not_spiffe");
  }
}

TEST_CASE("SVID: an expired or not yet valid certificate is refused",
          "[identity][spiffe]") {
  TestPki pki;
  auto auth = SpiffeAuthenticator();
  ClientSpec expired;
  expired.uri_sans = {kAlice};
  expired.valid_from_s = -2 * 24 * 60 * 60;
  expired.valid_until_s = -60 * 60;
  CheckRefused(auth->AuthenticateCertificate(pki.Client(expired).cert_pem),
               "cert_expired");
  ClientSpec future;
  future.uri_sans = {kAlice};
  future.valid_from_s = 60 * 60;
  CheckRefused(auth->AuthenticateCertificate(pki.Client(future).cert_pem),
               "cert_not_yet_valid");

  // The validity window is judged by the injected clock.
  FakeClock clock(absl::Now() + absl::Hours(48));
  auto later = SpiffeAuthenticator(clock.Function());
  CheckRefused(
      later->AuthenticateCertificate(pki.Client({kAlice}, "").cert_pem),
      "cert_expired");
}

TEST_CASE("SVID: an SVID without configured roles is PERMISSION_DENIED",
          "[identity][spiffe]") {
  TestPki pki;
  auto auth = SpiffeAuthenticator();
  absl::StatusOr<Principal> p = auth->AuthenticateCertificate(
      pki.Client({"spiffe://corp.test/user/nobody"}, "").cert_pem);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(RefusalReason(p.status()) == "no_roles");
}

TEST_CASE("Without auth.spiffe, CA and expired certificates are refused too",
          "[identity][spiffe]") {
  TestPki pki;
  AuthConfig config;
  config.mtls_identities = {{"legacy-client", {Role::kAgent}}};
  auto auth = Authenticator::Create(config);
  REQUIRE(auth.ok());
  ClientSpec ca;
  ca.cn = "legacy-client";
  ca.ca = true;
  CheckRefused((*auth)->AuthenticateCertificate(pki.Client(ca).cert_pem),
               "cert_is_ca");
  ClientSpec expired;
  expired.cn = "legacy-client";
  expired.valid_from_s = -7200;
  expired.valid_until_s = -3600;
  CheckRefused((*auth)->AuthenticateCertificate(pki.Client(expired).cert_pem),
               "cert_expired");
  // The legacy CN identity still works, qualified as mtls:.
  absl::StatusOr<Principal> p = (*auth)->AuthenticateCertificate(
      pki.Client({}, "legacy-client").cert_pem);
  REQUIRE(p.ok());
  CHECK(p->id == "legacy-client");
  CHECK(p->identity == "mtls:legacy-client");
}

// One client certificate shape and what each mode makes of it: "" = it
// authenticates, else the refusal reason.
struct LeafCase {
  const char* name;
  const char* basic_constraints;
  const char* key_usage;
  const char* extended_key_usage;
  const char* spiffe_refusal;
  const char* plain_refusal;
};

constexpr LeafCase kLeafCases[] = {
    // CA:TRUE is a CA whatever keyUsage says (X509_check_ca alone let this
    // one through: no keyCertSign, so "not a CA").
    {"CA:TRUE with keyUsage digitalSignature only", "critical,CA:TRUE",
     "critical,digitalSignature", "clientAuth", "cert_is_ca", "cert_is_ca"},
    {"CA:TRUE without keyUsage", "critical,CA:TRUE", "", "clientAuth",
     "cert_is_ca", "cert_is_ca"},
    {"CA:TRUE, not critical", "CA:TRUE", "critical,digitalSignature",
     "clientAuth", "cert_is_ca", "cert_is_ca"},
    // A key that signs certificates or CRLs is a CA key, whatever
    // basicConstraints says.
    {"CA:FALSE with keyCertSign", "critical,CA:FALSE",
     "critical,digitalSignature,keyCertSign", "clientAuth", "cert_is_ca",
     "cert_is_ca"},
    {"CA:FALSE with cRLSign", "critical,CA:FALSE",
     "critical,digitalSignature,cRLSign", "clientAuth", "cert_is_ca",
     "cert_is_ca"},
    {"no basicConstraints, keyCertSign", "",
     "critical,digitalSignature,keyCertSign", "clientAuth", "cert_is_ca",
     "cert_is_ca"},
    {"no basicConstraints, cRLSign only", "", "critical,cRLSign", "clientAuth",
     "cert_is_ca", "cert_is_ca"},
    // Leaf rules beyond CA-ness.
    {"keyUsage without digitalSignature", "critical,CA:FALSE",
     "critical,keyEncipherment", "clientAuth", "cert_key_usage",
     "cert_key_usage"},
    {"no keyUsage", "critical,CA:FALSE", "", "clientAuth", "cert_key_usage",
     ""},
    {"keyUsage not critical", "critical,CA:FALSE", "digitalSignature",
     "clientAuth", "cert_key_usage", ""},
    {"extendedKeyUsage without clientAuth", "critical,CA:FALSE",
     "critical,digitalSignature", "serverAuth", "cert_ext_key_usage",
     "cert_ext_key_usage"},
    // Good leaves: CA:FALSE, or no basicConstraints at all (a leaf by
    // default), digitalSignature, clientAuth or no extendedKeyUsage.
    {"good leaf", "critical,CA:FALSE", "critical,digitalSignature",
     "clientAuth", "", ""},
    {"good leaf with keyAgreement", "critical,CA:FALSE",
     "critical,digitalSignature,keyAgreement", "serverAuth,clientAuth", "", ""},
    {"good leaf without basicConstraints", "", "critical,digitalSignature",
     "clientAuth", "", ""},
    {"good leaf without extendedKeyUsage", "critical,CA:FALSE",
     "critical,digitalSignature", "", "", ""},
};

TEST_CASE("Client certificates: only leaves authenticate, in both modes",
          "[identity][spiffe][leaf]") {
  TestPki pki;
  AuthConfig config;
  config.mtls_identities = {{kAlice, {Role::kReviewer}}};
  absl::StatusOr<std::unique_ptr<Authenticator>> plain =
      Authenticator::Create(config);
  REQUIRE(plain.ok());
  auto spiffe = SpiffeAuthenticator();
  for (const LeafCase& c : kLeafCases) {
    ClientSpec spec;
    spec.uri_sans = {kAlice};
    spec.basic_constraints = c.basic_constraints;
    spec.key_usage = c.key_usage;
    spec.extended_key_usage = c.extended_key_usage;
    const std::string pem = pki.Client(spec).cert_pem;
    for (const bool svid : {true, false}) {
      INFO(c.name << (svid ? " (SPIFFE)" : " (plain mTLS)"));
      const std::string want = svid ? c.spiffe_refusal : c.plain_refusal;
      absl::StatusOr<Principal> p =
          (svid ? *spiffe : **plain).AuthenticateCertificate(pem);
      INFO(p.status().ToString());
      if (want.empty()) {
        CHECK(p.ok());
      } else {
        // Not CheckRefused: one wrong verdict must not hide the others.
        CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
        CHECK(RefusalReason(p.status()) == want);
      }
    }
  }
}

}  // namespace
}  // namespace approval::testing
