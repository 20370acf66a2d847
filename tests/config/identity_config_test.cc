// Configuration of identity sources: auth.oidc, auth.spiffe,
// auth.principals and auth.on_behalf_of — parsing, defaults and validation.
#include <catch2/catch.hpp>
#include <string>

#include "server/config/config.h"
#include "tests/support/certs/test_certs.h"

namespace approval {
namespace {

using Catch::Matchers::Contains;
using testing::TempDir;

// Valid with a tokens file; OIDC, SPIFFE and links left for each test.
Config Base(const TempDir& dir) {
  Config c;
  c.database_url = "postgresql://broker@localhost/approval";
  c.auth.tokens_file = dir.Write("tokens.json", R"({"tokens": []})");
  return c;
}

// A complete OIDC section reading keys from a file.
void EnableOidc(const TempDir& dir, Config& c) {
  c.auth.oidc.issuer = "https://idp.example.org";
  c.auth.oidc.audience = "approval-broker";
  c.auth.oidc.jwks_file = dir.Write("jwks.json", R"({"keys": []})");
}

void EnableTls(const TempDir& dir, Config& c) {
  c.tls.cert_file = dir.Write("server.crt", "pem");
  c.tls.key_file = dir.Write("server.key", "pem");
  c.tls.client_ca_file = dir.Write("ca.crt", "pem");
}

std::string ValidationError(const Config& c) {
  absl::Status s = ValidateConfig(c);
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  return std::string(s.message());
}

TEST_CASE("Identity keys default to off", "[config][identity]") {
  absl::StatusOr<Config> c = ParseConfig("{}", "config.json");
  REQUIRE(c.ok());
  const OidcConfig& o = c->auth.oidc;
  CHECK_FALSE(o.enabled());
  CHECK(o.issuer.empty());
  CHECK(o.audience.empty());
  CHECK(o.jwks_file.empty());
  CHECK(o.jwks_url.empty());
  CHECK(o.jwks_ca_file.empty());
  CHECK(o.allowed_algorithms == std::vector<std::string>{"RS256", "ES256"});
  CHECK(o.identity_claim == "sub");
  CHECK(o.groups_claim.empty());
  CHECK(o.group_roles.empty());
  CHECK(o.clock_skew == absl::Seconds(60));
  CHECK(o.jwks_refresh_min_interval == absl::Seconds(30));
  CHECK(o.jwks_fetch_timeout == absl::Seconds(5));
  CHECK(o.unknown_key_wait == absl::Seconds(2));
  CHECK_FALSE(c->auth.spiffe.enabled());
  CHECK(c->auth.principals.empty());
  CHECK(c->auth.on_behalf_of.empty());
}

TEST_CASE("ParseConfig reads every identity key", "[config][identity]") {
  absl::StatusOr<Config> c = ParseConfig(R"({
    "auth": {
      "oidc": {
        "issuer": "https://idp.example.org/realms/corp",
        "audience": "approval-broker",
        "jwks_url": "https://idp.example.org/realms/corp/certs",
        "jwks_ca_file": "idp-ca.pem",
        "allowed_algorithms": ["ES256"],
        "identity_claim": "email",
        "groups_claim": "groups",
        "group_roles": {"approvers": ["reviewer"], "ops": ["admin", "agent"]},
        "clock_skew": "30s",
        "jwks_refresh_min_interval": "1m",
        "jwks_fetch_timeout": "2s",
        "unknown_key_wait": "750ms"
      },
      "spiffe": {"trust_domain": "example.org"},
      "principals": [
        {"principal": "alice",
         "identities": ["oidc:alice@example.org",
                        "spiffe://example.org/user/alice"]}
      ],
      "on_behalf_of": [{"agent": "token:deploy-bot", "human": "alice"}]
    }
  })",
                                         "config.json");
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  const OidcConfig& o = c->auth.oidc;
  CHECK(o.enabled());
  CHECK(o.issuer == "https://idp.example.org/realms/corp");
  CHECK(o.audience == "approval-broker");
  CHECK(o.jwks_url == "https://idp.example.org/realms/corp/certs");
  CHECK(o.jwks_ca_file == "idp-ca.pem");
  CHECK(o.allowed_algorithms == std::vector<std::string>{"ES256"});
  CHECK(o.identity_claim == "email");
  CHECK(o.groups_claim == "groups");
  CHECK(o.group_roles.at("approvers") == std::set<Role>{Role::kReviewer});
  CHECK(o.group_roles.at("ops") == std::set<Role>{Role::kAdmin, Role::kAgent});
  CHECK(o.clock_skew == absl::Seconds(30));
  CHECK(o.jwks_refresh_min_interval == absl::Minutes(1));
  CHECK(o.jwks_fetch_timeout == absl::Seconds(2));
  CHECK(o.unknown_key_wait == absl::Milliseconds(750));
  CHECK(c->auth.spiffe.trust_domain == "example.org");
  REQUIRE(c->auth.principals.size() == 1);
  CHECK(c->auth.principals[0].principal == "alice");
  CHECK(c->auth.principals[0].identities ==
        std::vector<std::string>{"oidc:alice@example.org",
                                 "spiffe://example.org/user/alice"});
  REQUIRE(c->auth.on_behalf_of.size() == 1);
  CHECK(c->auth.on_behalf_of[0].agent == "token:deploy-bot");
  CHECK(c->auth.on_behalf_of[0].human == "alice");
}

TEST_CASE("Identity keys report unknown keys and wrong types by path",
          "[config][identity]") {
  auto error = [](absl::string_view text) {
    absl::StatusOr<Config> c = ParseConfig(text, "config.json");
    REQUIRE_FALSE(c.ok());
    return std::string(c.status().message());
  };
  CHECK_THAT(error(R"({"auth": {"oidc": {"isuser": "x"}}})"),
             Contains("auth.oidc.isuser: unknown key"));
  CHECK_THAT(error(R"({"auth": {"oidc": {"allowed_algorithms": "RS256"}}})"),
             Contains("auth.oidc.allowed_algorithms"));
  CHECK_THAT(error(R"({"auth": {"oidc": {"group_roles": {"g": ["boss"]}}}})"),
             Contains("auth.oidc.group_roles.g[0]"));
  CHECK_THAT(error(R"({"auth": {"principals": [{"name": "a"}]}})"),
             Contains("auth.principals[0].name: unknown key"));
  CHECK_THAT(error(R"({"auth": {"on_behalf_of": [{"agent": 1}]}})"),
             Contains("auth.on_behalf_of[0].agent"));
  CHECK_THAT(error(R"({"auth": {"spiffe": {"trust_domains": ["a"]}}})"),
             Contains("auth.spiffe.trust_domains: unknown key"));
}

TEST_CASE("OIDC alone is a way to authenticate", "[config][identity]") {
  TempDir dir;
  Config c = Base(dir);
  c.auth.tokens_file.clear();
  EnableOidc(dir, c);
  CHECK(ValidateConfig(c).ok());
}

TEST_CASE("ValidateConfig wants a complete OIDC section",
          "[config][identity]") {
  TempDir dir;
  Config c = Base(dir);
  c.auth.oidc.audience = "approval-broker";
  CHECK_THAT(ValidationError(c), Contains("auth.oidc.issuer: required"));

  EnableOidc(dir, c);
  CHECK(ValidateConfig(c).ok());
  c.auth.oidc.audience.clear();
  CHECK_THAT(ValidationError(c), Contains("auth.oidc.audience: required"));

  EnableOidc(dir, c);
  c.auth.oidc.jwks_url = "https://idp.example.org/certs";
  CHECK_THAT(ValidationError(c),
             Contains("set exactly one of jwks_file and jwks_url"));
  c.auth.oidc.jwks_file.clear();
  c.auth.oidc.jwks_url.clear();
  CHECK_THAT(ValidationError(c),
             Contains("set exactly one of jwks_file and jwks_url"));

  for (const char* url : {"http://idp.example.org/certs", "https://",
                          "ftp://idp/x", "https://idp.example.org/ certs"}) {
    c.auth.oidc.jwks_url = url;
    CHECK_THAT(ValidationError(c), Contains("is not an https:// URL"));
  }
  c.auth.oidc.jwks_url = "https://idp.example.org/certs";
  CHECK(ValidateConfig(c).ok());
  c.auth.oidc.jwks_ca_file = dir.path() + "/missing.pem";
  CHECK_THAT(ValidationError(c), Contains("auth.oidc.jwks_ca_file"));
  c.auth.oidc.jwks_ca_file = dir.Write("idp-ca.pem", "pem");
  CHECK(ValidateConfig(c).ok());

  EnableOidc(dir, c);
  c.auth.oidc.jwks_url.clear();
  c.auth.oidc.jwks_file = dir.path() + "/absent.json";
  CHECK_THAT(ValidationError(c), Contains("auth.oidc.jwks_file"));
}

TEST_CASE("ValidateConfig refuses none, HMAC and unknown algorithms",
          "[config][identity]") {
  TempDir dir;
  Config c = Base(dir);
  EnableOidc(dir, c);
  c.auth.oidc.allowed_algorithms = {"RS256", "none"};
  CHECK_THAT(ValidationError(c),
             Contains("allowed_algorithms[1]: \"none\" (unsigned tokens) is "
                      "never accepted"));
  c.auth.oidc.allowed_algorithms = {"HS256"};
  CHECK_THAT(ValidationError(c), Contains("HMAC algorithms"));
  c.auth.oidc.allowed_algorithms = {"RS512"};
  CHECK_THAT(ValidationError(c), Contains("is not supported"));
  c.auth.oidc.allowed_algorithms = {};
  CHECK_THAT(ValidationError(c), Contains("allowed_algorithms: empty"));
  c.auth.oidc.allowed_algorithms = {"ES256"};
  CHECK(ValidateConfig(c).ok());
}

TEST_CASE("ValidateConfig bounds OIDC durations and checks claims",
          "[config][identity]") {
  TempDir dir;
  Config c = Base(dir);
  EnableOidc(dir, c);
  c.auth.oidc.clock_skew = absl::Minutes(6);
  CHECK_THAT(ValidationError(c), Contains("auth.oidc.clock_skew"));
  c.auth.oidc.clock_skew = -absl::Seconds(1);
  CHECK_THAT(ValidationError(c), Contains("auth.oidc.clock_skew"));
  c.auth.oidc.clock_skew = absl::ZeroDuration();
  CHECK(ValidateConfig(c).ok());
  c.auth.oidc.jwks_refresh_min_interval = absl::ZeroDuration();
  CHECK_THAT(ValidationError(c), Contains("jwks_refresh_min_interval"));
  c.auth.oidc.jwks_refresh_min_interval = absl::Seconds(30);
  c.auth.oidc.jwks_fetch_timeout = absl::Minutes(2);
  CHECK_THAT(ValidationError(c), Contains("jwks_fetch_timeout"));
  c.auth.oidc.jwks_fetch_timeout = absl::Seconds(5);
  c.auth.oidc.unknown_key_wait = absl::Seconds(-1);
  CHECK_THAT(ValidationError(c), Contains("auth.oidc.unknown_key_wait"));
  c.auth.oidc.unknown_key_wait = absl::Seconds(61);
  CHECK_THAT(ValidationError(c), Contains("auth.oidc.unknown_key_wait"));
  c.auth.oidc.unknown_key_wait = absl::ZeroDuration();  // never wait
  CHECK(ValidateConfig(c).ok());
  c.auth.oidc.identity_claim.clear();
  CHECK_THAT(ValidationError(c), Contains("identity_claim"));
  c.auth.oidc.identity_claim = "sub";
  c.auth.oidc.group_roles = {{"approvers", {Role::kReviewer}}};
  CHECK_THAT(ValidationError(c), Contains("set auth.oidc.groups_claim too"));
  c.auth.oidc.groups_claim = "groups";
  CHECK(ValidateConfig(c).ok());
  c.auth.oidc.group_roles["empty"] = {};
  CHECK_THAT(ValidationError(c), Contains("auth.oidc.group_roles.empty"));
}

TEST_CASE("ValidateConfig checks the SPIFFE trust domain",
          "[config][identity]") {
  TempDir dir;
  Config c = Base(dir);
  c.auth.spiffe.trust_domain = "example.org";
  CHECK_THAT(ValidationError(c),
             Contains("auth.spiffe: configured without tls"));
  EnableTls(dir, c);
  CHECK(ValidateConfig(c).ok());
  c.auth.spiffe.trust_domain = "Example.org";
  CHECK_THAT(ValidationError(c), Contains("is not a trust domain name"));
  c.auth.spiffe.trust_domain = "example.org";
  c.auth.mtls_identities = {
      {"spiffe://example.org/user/carol", {Role::kReviewer}}};
  CHECK(ValidateConfig(c).ok());
  for (const char* id :
       {"spiffe://other.org/user/carol", "carol-cn", "spiffe://example.org"}) {
    c.auth.mtls_identities = {{id, {Role::kReviewer}}};
    CHECK_THAT(ValidationError(c),
               Contains("is not a SPIFFE ID with a path in trust domain"));
  }
}

TEST_CASE("ValidateConfig checks principals and on_behalf_of",
          "[config][identity]") {
  TempDir dir;
  Config c = Base(dir);
  c.auth.principals = {{"alice",
                        {"oidc:alice", "spiffe://corp/user/alice",
                         "token:alice", "mtls:alice-cn"}}};
  c.auth.on_behalf_of = {{"token:ci", "alice"}};
  CHECK(ValidateConfig(c).ok());

  c.auth.principals.push_back({"alice", {"oidc:a2"}});
  CHECK_THAT(ValidationError(c), Contains("\"alice\" is listed twice"));
  c.auth.principals.back() = {"bob", {"oidc:alice"}};
  CHECK_THAT(ValidationError(c),
             Contains("auth.principals[1].identities[0]: \"oidc:alice\" is "
                      "already linked to principal \"alice\""));
  c.auth.principals.back() = {"bob", {"alice"}};
  CHECK_THAT(ValidationError(c), Contains("is not a qualified identity"));
  c.auth.principals.back() = {"bob", {}};
  CHECK_THAT(ValidationError(c), Contains("no identities"));
  c.auth.principals.back() = {"", {"oidc:bob"}};
  CHECK_THAT(ValidationError(c), Contains("auth.principals[1].principal"));
  c.auth.principals.pop_back();

  c.auth.on_behalf_of.push_back({"token:ci", "bob"});
  CHECK_THAT(ValidationError(c), Contains("is listed twice"));
  c.auth.on_behalf_of.back() = {"ci", "bob"};
  CHECK_THAT(ValidationError(c), Contains("auth.on_behalf_of[1].agent"));
  c.auth.on_behalf_of.back() = {"token:ci-2", ""};
  CHECK_THAT(ValidationError(c), Contains("auth.on_behalf_of[1].human"));
  c.auth.on_behalf_of.back() = {"token:alice", "alice"};
  CHECK_THAT(ValidationError(c), Contains("is the agent"));
}

TEST_CASE("LoadConfigFile resolves the JWKS paths against the file",
          "[config][identity]") {
  TempDir dir;
  const std::string file = dir.Write("config.json", R"({
    "auth": {"oidc": {"issuer": "https://idp", "audience": "a",
                      "jwks_file": "jwks.json", "jwks_ca_file": "/abs/ca.pem"}}
  })");
  absl::StatusOr<Config> c = LoadConfigFile(file);
  REQUIRE(c.ok());
  CHECK(c->auth.oidc.jwks_file == dir.path() + "/jwks.json");
  CHECK(c->auth.oidc.jwks_ca_file == "/abs/ca.pem");
}

TEST_CASE("deploy/config.example.jsonc parses", "[config][identity]") {
  absl::StatusOr<Config> c =
      LoadConfigFile(APPROVAL_SOURCE_DIR "/deploy/config.example.jsonc");
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  // Its OIDC section is an example to copy, left off.
  CHECK_FALSE(c->auth.oidc.enabled());
}

}  // namespace
}  // namespace approval

namespace approval {
namespace {

std::string RelayParseError(absl::string_view text) {
  absl::StatusOr<Config> c = ParseConfig(text, "config.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

TEST_CASE("ParseConfig reads auth.relays and platform identities",
          "[config][identity][relay]") {
  absl::StatusOr<Config> c = ParseConfig(R"({"auth": {
      "principals": [{"principal": "alice",
                      "identities": ["token:alice", "slack:T0123/U0456"]}],
      "relays": [{"identity": "token:slack-bot", "namespace": "slack:T0123"}]
  }})",
                                         "config.json");
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  REQUIRE(c->auth.relays.size() == 1);
  CHECK(c->auth.relays[0].identity == "token:slack-bot");
  CHECK(c->auth.relays[0].platform_namespace == "slack:T0123");
  CHECK(c->auth.principals[0].identities[1] == "slack:T0123/U0456");
}

TEST_CASE("auth.relays: an unknown key is a config error",
          "[config][identity][relay]") {
  CHECK_THAT(RelayParseError(R"({"auth": {"relays": [
      {"identity": "token:bot", "namespace": "slack:T1", "team": "x"}]}})"),
             Contains("auth.relays[0].team: unknown key"));
}

TEST_CASE("ValidateConfig checks relays and platform identities",
          "[config][identity][relay]") {
  TempDir dir;
  Config c = Base(dir);
  c.auth.principals = {{"alice", {"token:alice", "slack:T0123/U0456"}}};
  c.auth.relays = {{"token:slack-bot", "slack:T0123"}};
  CHECK(ValidateConfig(c).ok());

  SECTION("a platform identity linked to two principals") {
    c.auth.principals.push_back({"bob", {"slack:T0123/U0456"}});
    CHECK_THAT(ValidationError(c),
               Contains("auth.principals[1].identities[0]: "
                        "\"slack:T0123/U0456\" is already linked to "
                        "principal \"alice\""));
  }
  SECTION("a malformed platform identity") {
    c.auth.principals[0].identities.push_back("slack:T0123");
    CHECK_THAT(ValidationError(c), Contains("is not a qualified identity"));
  }
  SECTION("a relay listed twice") {
    c.auth.relays.push_back({"token:slack-bot", "slack:T9"});
    CHECK_THAT(ValidationError(c),
               Contains("auth.relays[1].identity: \"token:slack-bot\" is "
                        "listed twice"));
  }
  SECTION("a relay identity that is not qualified") {
    c.auth.relays[0].identity = "slack-bot";
    CHECK_THAT(ValidationError(c), Contains("auth.relays[0].identity"));
  }
  SECTION("a namespace that is not one") {
    for (const char* ns :
         {"", "slack", "slack:", "slack:T1/U2", "token:T1", "Slack:T1"}) {
      c.auth.relays[0].platform_namespace = ns;
      CHECK_THAT(ValidationError(c), Contains("auth.relays[0].namespace"));
    }
  }
  SECTION("a relay that also acts for a human") {
    c.auth.on_behalf_of = {{"token:slack-bot", "alice"}};
    CHECK_THAT(ValidationError(c), Contains("is also in auth.on_behalf_of"));
  }
}

}  // namespace
}  // namespace approval
