// Canonical principals: identities of different methods linked to one
// principal compare equal, everywhere a principal is compared.
//
// Quorum (several distinct approvers) is another issue; what it will count
// is Principal::id, and these tests show that two identities linked to one
// principal yield the same id, so that person would be counted once.
#include "server/auth/identity_map.h"

#include <catch2/catch.hpp>

#include "server/auth/principal.h"
#include "server/auth/spiffe_id.h"

namespace approval {
namespace {

IdentityMap Map() {
  absl::StatusOr<IdentityMap> map = IdentityMap::Create(
      {{"alice",
        {"oidc:alice", "spiffe://corp.test/user/alice", "token:alice-cli"}},
       {"builder", {"token:ci-1", "mtls:builder-legacy"}}},
      {{"token:ci-1", "alice"}, {"spiffe://corp.test/agent/deployer", "bob"}});
  REQUIRE(map.ok());
  return *std::move(map);
}

TEST_CASE("Identities linked to one principal are the same principal",
          "[identity][principal]") {
  const IdentityMap map = Map();
  const std::string via_oidc = map.PrincipalOf(kMethodOidc, "alice");
  const std::string via_cert =
      map.PrincipalOf(kMethodMtls, "spiffe://corp.test/user/alice");
  const std::string via_token = map.PrincipalOf(kMethodToken, "alice-cli");
  CHECK(via_oidc == "alice");
  CHECK(via_cert == "alice");
  CHECK(via_token == "alice");
  // What a quorum of distinct approvers would count: one person.
  CHECK(std::set<std::string>{via_oidc, via_cert, via_token}.size() == 1);
  CHECK(map.PrincipalOf(kMethodMtls, "builder-legacy") == "builder");
  CHECK(map.PrincipalOf(kMethodToken, "ci-1") == "builder");
  CHECK(map.IdentitiesOf("alice") ==
        std::vector<std::string>{"oidc:alice", "spiffe://corp.test/user/alice",
                                 "token:alice-cli"});
}

TEST_CASE("An unlinked identity is its own principal, OIDC ones qualified",
          "[identity][principal]") {
  const IdentityMap map = Map();
  CHECK(map.PrincipalOf(kMethodToken, "agent-1") == "agent-1");
  CHECK(map.PrincipalOf(kMethodMtls, "spiffe://corp.test/user/bob") ==
        "spiffe://corp.test/user/bob");
  CHECK(map.PrincipalOf(kMethodMtls, "legacy-cn") == "legacy-cn");
  // An IdP subject can never pass for a token or certificate identity.
  CHECK(map.PrincipalOf(kMethodOidc, "agent-1") == "oidc:agent-1");
  CHECK(map.PrincipalOf(kMethodOidc, "bob") == "oidc:bob");
  // Linking is by method: a token identity "alice" is not oidc:alice.
  CHECK(map.PrincipalOf(kMethodToken, "alice") == "alice");
  CHECK(map.PrincipalOf(kMethodOidc, "alice-cli") == "oidc:alice-cli");
}

TEST_CASE("on_behalf_of names the human behind an agent identity",
          "[identity][principal]") {
  const IdentityMap map = Map();
  CHECK(map.HumanFor("token:ci-1") == "alice");
  CHECK(map.HumanFor("spiffe://corp.test/agent/deployer") == "bob");
  CHECK(map.HumanFor("token:agent-1") == std::nullopt);
  CHECK(map.HumanFor("oidc:ci-1") == std::nullopt);
}

TEST_CASE("IdentityMap refuses ambiguous or malformed links",
          "[identity][principal]") {
  CHECK(IdentityMap::Create({{"a", {"oidc:x"}}, {"b", {"oidc:x"}}}, {})
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
  CHECK(IdentityMap::Create({{"a", {"alice"}}}, {}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(IdentityMap::Create({}, {{"token:a", "x"}, {"token:a", "y"}})
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Qualified identities", "[identity][principal]") {
  CHECK(QualifiedIdentity(kMethodToken, "agent-1") == "token:agent-1");
  CHECK(QualifiedIdentity(kMethodOidc, "alice") == "oidc:alice");
  CHECK(QualifiedIdentity(kMethodMtls, "spiffe://td/x") == "spiffe://td/x");
  CHECK(QualifiedIdentity(kMethodMtls, "cn-name") == "mtls:cn-name");
  for (const char* ok :
       {"token:a", "oidc:a@b.c", "mtls:CN with space", "spiffe://td/x"}) {
    CHECK(IsQualifiedIdentity(ok));
  }
  for (const char* bad : {"", "alice", "token:", "oidc", "spiffe://",
                          "ldap:alice", "oidc:a\nb"}) {
    CHECK_FALSE(IsQualifiedIdentity(bad));
  }
}

TEST_CASE("SPIFFE IDs parse by the SPIFFE-ID rules", "[identity][spiffe]") {
  std::optional<SpiffeId> id = ParseSpiffeId("spiffe://corp.test/user/alice");
  REQUIRE(id.has_value());
  CHECK(id->trust_domain == "corp.test");
  CHECK(id->path == "/user/alice");
  id = ParseSpiffeId("spiffe://corp.test");
  REQUIRE(id.has_value());
  CHECK(id->path.empty());
  for (const char* bad :
       {"", "spiffe:/corp.test/x", "SPIFFE://corp.test/x",
        "https://corp.test/x", "spiffe://Corp.test/x", "spiffe://corp.test/x/",
        "spiffe://corp.test//x", "spiffe://corp.test/./x",
        "spiffe://corp.test/x/..", "spiffe://corp.test:443/x",
        "spiffe://user@corp.test/x", "spiffe://corp.test/x?q=1",
        "spiffe://corp.test/x#f", "spiffe://corp.test/a%20b", "spiffe:///x"}) {
    INFO(bad);
    CHECK_FALSE(ParseSpiffeId(bad).has_value());
  }
  CHECK(IsTrustDomainName("corp.test"));
  CHECK(IsTrustDomainName("a-b_c.9"));
  CHECK_FALSE(IsTrustDomainName("Corp"));
  CHECK_FALSE(IsTrustDomainName(""));
  CHECK_FALSE(IsTrustDomainName("corp/x"));
}

}  // namespace
}  // namespace approval
