// The JWKS fetched over HTTPS from a test server on loopback: verified TLS,
// key rotation without a restart, reloads rate-limited, fetch failures
// failing closed, and token headers that point elsewhere never followed.
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/auth/authenticator.h"
#include "server/auth/jwks_source.h"
#include "server/auth/refusal.h"
#include "server/domain/refusal_reason.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/identity/authenticator_fixture.h"
#include "tests/support/identity/fake_clock.h"
#include "tests/support/identity/jwks_https_server.h"
#include "tests/support/identity/token_minter.h"

namespace approval::testing {
namespace {

using Catch::Matchers::Contains;
using Json = nlohmann::json;

constexpr char kIssuer[] = "https://idp.test";
constexpr char kAudience[] = "approval-broker";

const TestKey& OldKey() {
  static const TestKey* const key = new TestKey(TestKey::Rsa("2024-old"));
  return *key;
}
const TestKey& NewKey() {
  static const TestKey* const key = new TestKey(TestKey::Ec("2025-new"));
  return *key;
}
const TestKey& AttackerKey() {
  static const TestKey* const key = new TestKey(TestKey::Ec("attacker"));
  return *key;
}

struct Fixture {
  TestPki pki;
  TempDir dir;
  JwksHttpsServer server{pki.Server()};
  FakeClock clock{absl::Now()};
  AuthConfig config;
  std::unique_ptr<Authenticator> auth;

  Fixture() {
    server.SetBody(JwksJson({OldKey()}));
    config.oidc.issuer = kIssuer;
    config.oidc.audience = kAudience;
    config.oidc.jwks_url = server.url();
    config.oidc.jwks_ca_file = dir.Write("ca.crt", pki.ca().cert_pem);
    config.oidc.groups_claim = "groups";
    config.oidc.group_roles = {{"approvers", {Role::kReviewer}}};
    config.oidc.jwks_refresh_min_interval = absl::Seconds(30);
  }

  Authenticator& Get() {
    if (auth == nullptr) auth = MustCreateAuthenticator(config, clock);
    return *auth;
  }

  std::string Token(const TestKey& key) const {
    Json claims = Claims(kIssuer, kAudience, "alice", clock.Now());
    claims["groups"] = {"approvers"};
    return Mint(claims, key);
  }

  absl::StatusOr<Principal> Bearer(const std::string& token) {
    return Get().AuthenticateBearer("Bearer " + token);
  }
};

TEST_CASE("JWKS over HTTPS: tokens verify against the fetched keys",
          "[identity][jwks][https]") {
  Fixture f;
  absl::StatusOr<Principal> p = f.Bearer(f.Token(OldKey()));
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  CHECK(p->identity == "oidc:alice");
  CHECK(f.server.requests() == 1);  // fetched once at start
}

TEST_CASE("JWKS over HTTPS: key rotation needs no restart",
          "[identity][jwks][https]") {
  Fixture f;
  REQUIRE(f.Bearer(f.Token(OldKey())).ok());
  // The IdP publishes a new key and starts signing with it.
  f.server.SetBody(JwksJson({OldKey(), NewKey()}));
  f.clock.Advance(absl::Seconds(30));
  absl::StatusOr<Principal> p = f.Bearer(f.Token(NewKey()));
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  CHECK(f.server.requests() == 2);
  // Later it withdraws the old key; the next unknown kid reloads the set.
  f.server.SetBody(JwksJson({NewKey()}));
  f.clock.Advance(absl::Seconds(30));
  CHECK_FALSE(f.Bearer(f.Token(AttackerKey())).ok());
  CHECK(f.server.requests() == 3);
  p = f.Bearer(f.Token(OldKey()));
  REQUIRE_FALSE(p.ok());
  CHECK(RefusalReason(p.status()) == "jwt_unknown_kid");
  CHECK(f.Bearer(f.Token(NewKey())).ok());
}

TEST_CASE("JWKS over HTTPS: unknown kids reload at most once per interval",
          "[identity][jwks][https]") {
  Fixture f;
  // The start-up load runs in the background; a token waits for it.
  REQUIRE(f.Bearer(f.Token(OldKey())).ok());
  REQUIRE(f.server.requests() == 1);
  f.clock.Advance(absl::Seconds(30));
  for (int i = 0; i < 25; ++i) {
    absl::StatusOr<Principal> p = f.Bearer(f.Token(AttackerKey()));
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
    CHECK(RefusalReason(p.status()) == "jwt_unknown_kid");
  }
  CHECK(f.server.requests() == 2);
  f.clock.Advance(absl::Seconds(29));
  CHECK_FALSE(f.Bearer(f.Token(AttackerKey())).ok());
  CHECK(f.server.requests() == 2);
  f.clock.Advance(absl::Seconds(1));
  CHECK_FALSE(f.Bearer(f.Token(AttackerKey())).ok());
  CHECK(f.server.requests() == 3);
}

TEST_CASE("JWKS over HTTPS: a fetch failure refuses unknown kids",
          "[identity][jwks][https]") {
  Fixture f;
  REQUIRE(f.Bearer(f.Token(OldKey())).ok());
  f.server.SetStatus(500);
  f.server.SetBody(JwksJson({OldKey(), NewKey()}));
  f.clock.Advance(absl::Minutes(1));
  absl::StatusOr<Principal> p = f.Bearer(f.Token(NewKey()));
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK(RefusalReason(p.status()) == "jwt_unknown_kid");
  CHECK_THAT(RefusalDetail(p.status()), Contains("HTTP status 500"));
  // Keys already held keep working.
  CHECK(f.Bearer(f.Token(OldKey())).ok());
  // Once the IdP is back, the next reload picks the new key up.
  f.server.SetStatus(200);
  f.clock.Advance(absl::Minutes(1));
  CHECK(f.Bearer(f.Token(NewKey())).ok());
}

TEST_CASE("JWKS over HTTPS: a fetched key set with a repeated key is refused",
          "[identity][jwks][https][strict_json]") {
  Fixture f;
  // Two "n" in one key: which modulus is the key?
  const Json jwk = OldKey().PublicJwk();
  f.server.SetBody(absl::StrCat(
      R"({"keys": [)", RepeatKey(jwk, "n", NewKey().PublicJwk().value("x", "")),
      "]}"));
  absl::StatusOr<Principal> p = f.Bearer(f.Token(OldKey()));
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK(RefusalReason(p.status()) == "jwt_unknown_kid");
  CHECK_THAT(RefusalDetail(p.status()),
             Contains("JWKS " + f.server.url() +
                      ": keys[0].n: key \"n\" appears twice"));
  CHECK(f.server.requests() == 1);
  // Once the IdP publishes a well-formed set, the next reload takes it.
  f.server.SetBody(JwksJson({OldKey()}));
  f.clock.Advance(absl::Seconds(30));
  CHECK(f.Bearer(f.Token(OldKey())).ok());
}

TEST_CASE("JWKS over HTTPS: the server certificate is verified",
          "[identity][jwks][https]") {
  Fixture f;
  // The broker trusts another CA than the one that issued the server's
  // certificate: the fetch fails TLS verification and nothing is trusted.
  TestPki other;
  f.config.oidc.jwks_ca_file = f.dir.Write("other-ca.crt", other.ca().cert_pem);
  absl::StatusOr<Principal> p = f.Bearer(f.Token(OldKey()));
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK(RefusalReason(p.status()) == "jwt_unknown_kid");
  CHECK(f.server.requests() == 0);

  // And the fetcher by itself says why.
  absl::StatusOr<std::string> fetched =
      NewHttpsJwksSource(f.server.url(), f.config.oidc.jwks_ca_file,
                         absl::Seconds(5))
          ->Fetch();
  CHECK(fetched.status().code() == absl::StatusCode::kUnavailable);
  // A plain-HTTP URL is never fetched.
  CHECK(NewHttpsJwksSource("http://127.0.0.1:1/jwks.json", "", absl::Seconds(5))
            ->Fetch()
            .status()
            .code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("JWKS over HTTPS: jku and x5u pointing elsewhere are not followed",
          "[identity][jwks][https]") {
  Fixture f;
  // The attacker runs a JWKS server of its own, trusted by the same CA, and
  // points the token at it.
  JwksHttpsServer attacker(f.pki.Server());
  attacker.SetBody(JwksJson({AttackerKey()}));
  REQUIRE(f.Bearer(f.Token(OldKey())).ok());  // the start-up load is done
  f.clock.Advance(absl::Minutes(1));
  Json header = HeaderFor(AttackerKey());
  header["jku"] = attacker.url();
  header["x5u"] = attacker.url();
  header["jwk"] = AttackerKey().PublicJwk();
  Json claims = Claims(kIssuer, kAudience, "alice", f.clock.Now());
  claims["groups"] = {"approvers"};
  absl::StatusOr<Principal> p = f.Bearer(Mint(header, claims, AttackerKey()));
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK(RefusalReason(p.status()) == "jwt_unknown_kid");
  CHECK(attacker.requests() == 0);
  // The configured JWKS was consulted instead.
  CHECK(f.server.requests() == 2);
}

TEST_CASE("JWKS over HTTPS: an IdP down at start is retried later",
          "[identity][jwks][https]") {
  Fixture f;
  f.server.SetStatus(503);
  f.Get();  // start-up does not fail: only OIDC tokens are refused
  CHECK_FALSE(f.Bearer(f.Token(OldKey())).ok());
  f.server.SetStatus(200);
  f.clock.Advance(absl::Seconds(30));
  CHECK(f.Bearer(f.Token(OldKey())).ok());
}

}  // namespace
}  // namespace approval::testing
