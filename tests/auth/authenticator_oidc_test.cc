// Authenticator with auth.oidc: claims to identity, groups to roles, the act
// claim and auth.on_behalf_of, canonical principals across methods, and the
// refusals (with reasons) of each.
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/auth/authenticator.h"
#include "server/auth/refusal.h"
#include "server/domain/refusal_reason.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/identity/authenticator_fixture.h"
#include "tests/support/identity/fake_clock.h"
#include "tests/support/identity/token_minter.h"

namespace approval::testing {
namespace {

using Catch::Matchers::Contains;
using Json = nlohmann::json;

constexpr char kIssuer[] = "https://idp.test/realms/corp";
constexpr char kAudience[] = "approval-broker";
constexpr char kAliceCert[] = "spiffe://corp.test/user/alice";
constexpr char kBotToken[] = "deploy-bot-token";
// printf %s deploy-bot-token | sha256sum
constexpr char kBotSha[] =
    "a3b7715e44c04557400b8623889856bb3e7c4260d5b5a4885bb4e2f7dc3c4c18";

// Real time (once), because certificates made at test time are valid from an
// hour ago; the authenticator still reads it from the injected clock.
const absl::Time kNow = absl::Now();

const TestKey& Key() {
  static const TestKey* const key = new TestKey(TestKey::Ec("idp-1"));
  return *key;
}

struct Fixture {
  TempDir dir;
  FakeClock clock{kNow};
  AuthConfig config;
  std::unique_ptr<Authenticator> auth;

  Fixture() {
    config.oidc.issuer = kIssuer;
    config.oidc.audience = kAudience;
    config.oidc.jwks_file = dir.Write("jwks.json", JwksJson({Key()}));
    config.oidc.groups_claim = "groups";
    config.oidc.group_roles = {{"approvers", {Role::kReviewer}},
                               {"requesters", {Role::kAgent}},
                               {"admins", {Role::kAdmin}}};
    config.spiffe.trust_domain = "corp.test";
    config.mtls_identities = {{kAliceCert, {Role::kReviewer}}};
    config.tokens_file = dir.Write(
        "tokens.json",
        absl::StrCat(
            R"({"tokens": [{"sha256": ")", kBotSha,
            R"(", "identity": "deploy-bot", "roles": ["agent", "reviewer"]}]})"));
    config.principals = {{"alice", {"oidc:alice", kAliceCert}}};
    config.on_behalf_of = {{"token:deploy-bot", "alice"}};
  }

  Authenticator& Get() {
    if (auth == nullptr) auth = MustCreateAuthenticator(config, clock);
    return *auth;
  }

  absl::StatusOr<Principal> Bearer(const std::string& token) {
    return Get().AuthenticateBearer("Bearer " + token);
  }
};

Json ClaimsFor(const std::string& sub, std::vector<std::string> groups) {
  Json c = Claims(kIssuer, kAudience, sub, kNow);
  c["groups"] = groups;
  return c;
}

TEST_CASE("OIDC: sub is the identity and groups map to roles",
          "[identity][oidc]") {
  Fixture f;
  absl::StatusOr<Principal> p =
      f.Bearer(Mint(ClaimsFor("bob", {"approvers", "unknown-group"}), Key()));
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  CHECK(p->method == "oidc");
  CHECK(p->identity == "oidc:bob");
  CHECK(p->id == "oidc:bob");  // unlinked: qualified, never plain "bob"
  CHECK(p->roles == std::set<Role>{Role::kReviewer});
  CHECK(p->on_behalf_of.empty());
  CHECK(p->groups == std::set<std::string>{"approvers", "unknown-group"});

  p = f.Bearer(Mint(ClaimsFor("carol", {"requesters", "admins"}), Key()));
  REQUIRE(p.ok());
  CHECK(p->roles == std::set<Role>{Role::kAgent, Role::kAdmin});

  // A single string is one group.
  Json one = Claims(kIssuer, kAudience, "dave", kNow);
  one["groups"] = "approvers";
  p = f.Bearer(Mint(one, Key()));
  REQUIRE(p.ok());
  CHECK(p->roles == std::set<Role>{Role::kReviewer});
}

TEST_CASE("OIDC: the identity claim is configurable", "[identity][oidc]") {
  Fixture f;
  f.config.oidc.identity_claim = "email";
  Json claims = ClaimsFor("f81d4fae", {"approvers"});
  claims["email"] = "erin@corp.test";
  absl::StatusOr<Principal> p = f.Bearer(Mint(claims, Key()));
  REQUIRE(p.ok());
  CHECK(p->identity == "oidc:erin@corp.test");
  claims.erase("email");
  p = f.Bearer(Mint(claims, Key()));
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK(RefusalReason(p.status()) == "jwt_bad_identity");
}

TEST_CASE("OIDC: a token whose groups map to no role is PERMISSION_DENIED",
          "[identity][oidc]") {
  Fixture f;
  absl::StatusOr<Principal> p =
      f.Bearer(Mint(ClaimsFor("frank", {"sales"}), Key()));
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(RefusalReason(p.status()) == "no_roles");
  CHECK_THAT(std::string(p.status().message()),
             Contains("none of its groups maps to a role"));
  Json claims = Claims(kIssuer, kAudience, "frank", kNow);
  p = f.Bearer(Mint(claims, Key()));  // no groups claim at all
  CHECK(p.status().code() == absl::StatusCode::kPermissionDenied);
}

TEST_CASE("OIDC: malformed identity, groups or act claims are refused",
          "[identity][oidc]") {
  Fixture f;
  Json claims = ClaimsFor("x", {"approvers"});
  for (const Json& sub : {Json(7), Json(""), Json("a\nb"), Json(nullptr),
                          Json(std::string(300, 'a'))}) {
    claims["sub"] = sub;
    absl::StatusOr<Principal> p = f.Bearer(Mint(claims, Key()));
    CHECK(RefusalReason(p.status()) == "jwt_bad_identity");
  }
  claims = ClaimsFor("x", {});
  for (const Json& groups : {Json(3), Json::array({"approvers", 1}),
                             Json::object({{"approvers", true}})}) {
    claims["groups"] = groups;
    absl::StatusOr<Principal> p = f.Bearer(Mint(claims, Key()));
    CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
    CHECK(RefusalReason(p.status()) == "jwt_bad_groups");
  }
  claims = ClaimsFor("alice", {"requesters"});
  for (const Json& act :
       {Json("ci"), Json::object(), Json({{"sub", 5}}),
        Json({{"sub", "ci"}, {"iss", "https://evil.test"}})}) {
    claims["act"] = act;
    absl::StatusOr<Principal> p = f.Bearer(Mint(claims, Key()));
    CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
    CHECK(RefusalReason(p.status()) == "jwt_bad_act");
  }
}

TEST_CASE("The same human via OIDC and via certificate is one principal",
          "[identity][oidc][principal]") {
  Fixture f;
  TestPki pki;
  absl::StatusOr<Principal> via_oidc =
      f.Bearer(Mint(ClaimsFor("alice", {"requesters"}), Key()));
  absl::StatusOr<Principal> via_cert =
      f.Get().AuthenticateCertificate(pki.Client({kAliceCert}, "").cert_pem);
  REQUIRE(via_oidc.ok());
  REQUIRE(via_cert.ok());
  CHECK(via_oidc->id == "alice");
  CHECK(via_cert->id == "alice");
  CHECK(via_oidc->identity == "oidc:alice");
  CHECK(via_cert->identity == kAliceCert);
}

TEST_CASE("OIDC: an act claim makes the actor an agent for the subject",
          "[identity][oidc][on_behalf_of]") {
  Fixture f;
  // alice's groups would make her a reviewer; her agent gets none of that.
  Json claims = ClaimsFor("alice", {"requesters", "approvers"});
  claims["act"] = {{"sub", "ci-runner"}, {"act", {{"sub", "older-actor"}}}};
  absl::StatusOr<Principal> p = f.Bearer(Mint(claims, Key()));
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  CHECK(p->identity == "oidc:ci-runner");
  CHECK(p->id == "oidc:ci-runner");
  CHECK(p->on_behalf_of == "alice");  // canonical: oidc:alice is linked
  CHECK(p->roles == std::set<Role>{Role::kAgent});
  CHECK(p->groups.empty());  // alice's groups, not the runner's

  // Without the agent role, a delegated token has nothing left.
  claims["groups"] = {"approvers"};
  p = f.Bearer(Mint(claims, Key()));
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(RefusalReason(p.status()) == "no_roles");

  // An actor of the issuer itself (act.iss equal) is fine.
  claims["groups"] = {"requesters"};
  claims["act"] = {{"sub", "ci-runner"}, {"iss", kIssuer}};
  CHECK(f.Bearer(Mint(claims, Key())).ok());
}

TEST_CASE("on_behalf_of config makes a token agent act for its human",
          "[identity][on_behalf_of]") {
  Fixture f;
  absl::StatusOr<Principal> p = f.Bearer(kBotToken);
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  CHECK(p->method == "token");
  CHECK(p->identity == "token:deploy-bot");
  CHECK(p->id == "deploy-bot");
  CHECK(p->on_behalf_of == "alice");
  // The file grants agent and reviewer; acting for alice leaves agent only.
  CHECK(p->roles == std::set<Role>{Role::kAgent});
}

TEST_CASE("An act claim contradicting on_behalf_of config is refused",
          "[identity][on_behalf_of]") {
  Fixture f;
  f.config.on_behalf_of.push_back({"oidc:ci-runner", "alice"});
  Json claims = ClaimsFor("bob", {"requesters"});
  claims["act"] = {{"sub", "ci-runner"}};
  absl::StatusOr<Principal> p = f.Bearer(Mint(claims, Key()));
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(RefusalReason(p.status()) == "delegation_conflict");
  // The configured human is fine.
  claims["sub"] = "alice";
  p = f.Bearer(Mint(claims, Key()));
  REQUIRE(p.ok());
  CHECK(p->on_behalf_of == "alice");
  // And without an act claim the config applies alone.
  Json direct = ClaimsFor("ci-runner", {"requesters"});
  p = f.Bearer(Mint(direct, Key()));
  REQUIRE(p.ok());
  CHECK(p->on_behalf_of == "alice");
}

TEST_CASE("OIDC refusals carry a reason and a log detail, never the token",
          "[identity][oidc]") {
  Fixture f;
  Json claims = ClaimsFor("alice", {"requesters"});
  claims["iss"] = "https://evil.test";
  const std::string token = Mint(claims, Key());
  absl::StatusOr<Principal> p = f.Bearer(token);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK(RefusalReason(p.status()) == "jwt_wrong_issuer");
  CHECK(std::string(p.status().message()) ==
        "bearer token refused: issued by another issuer");
  // The operator's log line says what was expected and what came.
  CHECK_THAT(RefusalDetail(p.status()), Contains("evil.test"));
  CHECK_THAT(RefusalDetail(p.status()), Contains(kIssuer));
  CHECK_THAT(RefusalDetail(p.status()), !Contains(token));
}

TEST_CASE("With OIDC on, tokens-file tokens still work and others are unknown",
          "[identity][oidc]") {
  Fixture f;
  CHECK(f.Bearer(kBotToken).ok());
  absl::StatusOr<Principal> p = f.Bearer("some-opaque-token");
  REQUIRE_FALSE(p.ok());
  CHECK(RefusalReason(p.status()) == "unknown_token");
  CHECK(std::string(p.status().message()) == "unknown bearer token");
  // A JWT-shaped token is verified as one.
  p = f.Bearer("aaa.bbb.ccc");
  REQUIRE_FALSE(p.ok());
  CHECK(RefusalReason(p.status()) == "jwt_malformed");
}

TEST_CASE("A principal named like an unlinked identity is a load error",
          "[identity][principal]") {
  Fixture f;
  // "deploy-bot" is a tokens-file identity; a principal of that name that
  // does not list token:deploy-bot would merge two callers silently.
  f.config.principals.push_back({"deploy-bot", {"oidc:deploy"}});
  f.config.on_behalf_of.clear();
  absl::Status s = Authenticator::Create(f.config).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Contains("token:deploy-bot"));
  // Listing it is fine.
  f.config.principals.back().identities.push_back("token:deploy-bot");
  CHECK(Authenticator::Create(f.config).ok());
}

TEST_CASE("OIDC: a JWT header or claim that appears twice refuses the token",
          "[identity][oidc][strict_json]") {
  Fixture f;
  const Json claims = ClaimsFor("alice", {"approvers"});
  const std::string good_claims = claims.dump();
  // Each token is validly signed by the IdP's key over its exact text.
  struct Case {
    std::string header;
    std::string claims;
    std::string message;
  };
  const Case cases[] = {
      // One parser would read "none", another the real algorithm.
      {RepeatKey(HeaderFor(Key()), "alg", "none"), good_claims,
       "bearer token refused: JWT header: key \"alg\" appears twice"},
      {RepeatKey(HeaderFor(Key()), "kid", "other"), good_claims,
       "bearer token refused: JWT header: key \"kid\" appears twice"},
      // Two subjects: which one is the caller?
      {HeaderFor(Key()).dump(), RepeatKey(claims, "sub", "admin"),
       "bearer token refused: JWT claims: key \"sub\" appears twice"},
      {HeaderFor(Key()).dump(), RepeatKey(claims, "aud", "another-service"),
       "bearer token refused: JWT claims: key \"aud\" appears twice"},
  };
  for (const Case& c : cases) {
    INFO(c.header << " . " << c.claims);
    absl::StatusOr<Principal> p = f.Bearer(MintText(c.header, c.claims, Key()));
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
    CHECK(RefusalReason(p.status()) == "jwt_malformed");
    CHECK(std::string(p.status().message()) == c.message);
  }
  // Nested objects are checked too (act.sub twice).
  Json with_act = claims;
  with_act["act"] = {{"sub", "bot"}};
  std::string text = with_act.dump();
  const std::string act = R"("act":{"sub":"bot"})";
  REQUIRE(text.find(act) != std::string::npos);
  text.replace(text.find(act), act.size(),
               R"("act":{"sub":"bot","sub":"alice"})");
  absl::StatusOr<Principal> p =
      f.Bearer(MintText(HeaderFor(Key()).dump(), text, Key()));
  REQUIRE_FALSE(p.ok());
  CHECK_THAT(std::string(p.status().message()),
             Contains("JWT claims: key \"sub\" appears twice"));
  // JSON has no comments: a header with one is not JSON.
  p = f.Bearer(
      MintText(R"({"alg":"ES256",/* x */"kid":"idp-1"})", good_claims, Key()));
  REQUIRE_FALSE(p.ok());
  CHECK(RefusalReason(p.status()) == "jwt_malformed");
  // The parser's excerpt of the token stays in the log.
  CHECK(std::string(p.status().message()) ==
        "bearer token refused: JWT header: not valid JSON");
  CHECK_THAT(RefusalDetail(p.status()), Contains("parse error"));
  // The same texts without repetition verify: the refusals above are for
  // the repeated keys alone.
  CHECK(f.Bearer(MintText(HeaderFor(Key()).dump(), good_claims, Key())).ok());
}

TEST_CASE("A JWKS file with a key that appears twice fails start-up",
          "[identity][oidc][strict_json]") {
  Fixture f;
  const Json jwk = Key().PublicJwk();
  const std::string file = f.dir.Write(
      "dup.json",
      absl::StrCat(R"({"keys": [)", RepeatKey(jwk, "kid", "other"), "]}"));
  f.config.oidc.jwks_file = file;
  absl::Status s = Authenticator::Create(f.config).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()),
             Contains("JWKS file " + file +
                      ": keys[0].kid: key \"kid\" appears twice"));
  // "keys" twice at the top level too.
  f.config.oidc.jwks_file = f.dir.Write(
      "dup2.json", absl::StrCat(R"({"keys": [], "keys": [)", jwk.dump(), "]}"));
  s = Authenticator::Create(f.config).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Contains("key \"keys\" appears twice"));
}

TEST_CASE("A JWKS file that cannot be used fails start-up",
          "[identity][oidc]") {
  Fixture f;
  f.config.oidc.jwks_file = f.dir.Write("bad.json", "{\"keys\": 1}");
  CHECK(Authenticator::Create(f.config).status().code() ==
        absl::StatusCode::kInvalidArgument);
  f.config.oidc.jwks_file = f.dir.path() + "/missing.json";
  CHECK(Authenticator::Create(f.config).status().code() ==
        absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace approval::testing
