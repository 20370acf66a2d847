#include "server/auth/authenticator.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/certs/test_certs.h"

namespace approval {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using testing::KeyPair;
using testing::TempDir;
using testing::TestPki;

// Tokens and their SHA-256, computed independently with sha256sum.
constexpr char kAgentToken[] = "agent-token-1";
constexpr char kAgentSha[] =
    "a4bb8eb2694d411da416b87a85c56b53228046f59d1c81b2fa21a8e315a2042a";
constexpr char kReviewerToken[] = "reviewer-token-2";
constexpr char kReviewerSha[] =
    "39138c8734c3e2cbb416d32c85367586aaf065bc489a436afd037e3c3bff8edb";

constexpr char kCarol[] = "spiffe://example.org/reviewer/carol";

std::string TokensJson() {
  return std::string(R"({"tokens": [
    // rotated tokens may share an identity
    {"sha256": ")") +
         kAgentSha + R"(", "identity": "agent-demo", "roles": ["agent"]},
    {"sha256": ")" +
         kReviewerSha +
         R"(", "identity": "bob", "roles": ["reviewer", "admin"]}]})";
}

std::unique_ptr<Authenticator> MakeAuthenticator(const TempDir& dir) {
  AuthConfig config;
  config.tokens_file = dir.Write("tokens.json", TokensJson());
  config.mtls_identities = {{kCarol, {Role::kReviewer}},
                            {"legacy-client", {Role::kAgent}}};
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(config);
  REQUIRE(auth.ok());
  return *std::move(auth);
}

absl::Status LoadTokens(const TempDir& dir, const std::string& json) {
  AuthConfig config;
  config.tokens_file = dir.Write("tokens.json", json);
  return Authenticator::Create(config).status();
}

TEST_CASE("Tokens file: a repeated key is refused, not last-one-wins",
          "[auth][strict_json]") {
  TempDir dir;
  const std::string file = dir.path() + "/tokens.json";
  const std::string sha = kAgentSha;
  // Last-one-wins would make this agent an admin.
  absl::Status s =
      LoadTokens(dir, R"({"tokens": [{"sha256": ")" + sha +
                          R"(", "identity": "agent-demo", "roles": ["agent"],
                    "roles": ["admin"]}]})");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) ==
        "tokens file " + file +
            ": tokens[0].roles: key \"roles\" appears twice");
  // At the top level, and spelt with an escape, too.
  s = LoadTokens(dir, R"({"tokens": [], "tok\u0065ns": []})");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()),
             Contains(": tokens: key \"tokens\" appears twice"));
  s = LoadTokens(dir, R"({"tokens": [{"sha256": ")" + sha +
                          R"(", "identity": "a", "identity": "admin",
                               "roles": ["agent"]}]})");
  CHECK_THAT(std::string(s.message()),
             Contains("tokens[0].identity: key \"identity\" appears twice"));
  // The same key in two different entries is fine.
  CHECK(LoadTokens(dir, TokensJson()).ok());
}

TEST_CASE("Tokens file: a syntax error is located, never quoted",
          "[auth][strict_json]") {
  TempDir dir;
  // Found by tokens_fuzzer: nlohmann's message quoted the text it read last,
  // the hash (or a token pasted by mistake) included.
  absl::Status s = LoadTokens(
      dir, R"({"tokens": [{"sha256": ")" + std::string(kAgentSha) + "\"\v}]}");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Contains("line 1, column"));
  CHECK_THAT(std::string(s.message()), !Contains(kAgentSha));
  // Nor when the hash (or a token) is where a key name belongs; a misspelt
  // field name still is named.
  s = LoadTokens(dir, R"({")" + std::string(kAgentSha) + R"(": []})");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), !Contains(kAgentSha));
  s = LoadTokens(dir, R"({"tokens": [], "tokns": []})");
  CHECK_THAT(std::string(s.message()), Contains("tokns: unknown key"));
  // Nor where a role belongs (found by tokens_fuzzer); a misspelt role is.
  const std::string entry = R"({"tokens": [{"sha256": ")" +
                            std::string(kAgentSha) +
                            R"(", "identity": "a", "roles": [")";
  s = LoadTokens(dir, entry + kAgentSha + R"("]}]})");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Contains("is not a role"));
  CHECK_THAT(std::string(s.message()), !Contains(kAgentSha));
  s = LoadTokens(dir, R"({")" + std::string(kAgentSha) + R"(": [], ")" +
                          kAgentSha + R"(": []})");
  CHECK_THAT(std::string(s.message()), Contains("appears twice"));
  CHECK_THAT(std::string(s.message()), !Contains(kAgentSha));
  s = LoadTokens(dir, entry + R"(admn"]}]})");
  CHECK_THAT(std::string(s.message()), Contains("\"admn\" is not a role"));
}

TEST_CASE("Tokens file: a malformed file names the file and the entry",
          "[auth]") {
  TempDir dir;
  const std::string file = dir.path() + "/tokens.json";
  const std::string sha = kAgentSha;

  absl::Status s = LoadTokens(dir, "{\"tokens\": [");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Contains(file + ": invalid JSON"));

  s = LoadTokens(dir, R"({"token": []})");
  CHECK_THAT(std::string(s.message()), Contains(file + ": token: unknown key"));

  s = LoadTokens(dir,
                 R"({"tokens": [{"sha256": ")" + sha +
                     R"(", "identity": "a", "roles": ["agent"], "x": 1}]})");
  CHECK_THAT(std::string(s.message()),
             Contains(file + ": tokens[0].x: unknown key"));

  s = LoadTokens(dir, R"({"tokens": [{"sha256": ")" + sha +
                          R"(", "identity": "", "roles": ["agent"]}]})");
  CHECK_THAT(std::string(s.message()), Contains("tokens[0].identity"));

  s = LoadTokens(dir, R"({"tokens": [{"sha256": ")" + sha +
                          R"(", "identity": "a", "roles": ["approver"]}]})");
  CHECK_THAT(std::string(s.message()),
             Contains("tokens[0].roles[0]: \"approver\" is not a role"));
}

TEST_CASE("Tokens file: an identity with no roles is a load error", "[auth]") {
  TempDir dir;
  const std::string sha = kAgentSha;
  absl::Status s = LoadTokens(
      dir, R"({"tokens": [{"sha256": ")" + sha + R"(", "identity": "a",
                            "roles": []}]})");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Contains("tokens[0].roles: no roles"));
  s = LoadTokens(
      dir, R"({"tokens": [{"sha256": ")" + sha + R"(", "identity": "a"}]})");
  CHECK_THAT(std::string(s.message()), Contains("tokens[0].roles: no roles"));
}

TEST_CASE("Tokens file: a duplicate hash is a load error", "[auth]") {
  TempDir dir;
  const std::string sha = kAgentSha;
  absl::Status s = LoadTokens(dir, R"({"tokens": [
        {"sha256": ")" + sha + R"(", "identity": "a", "roles": ["agent"]},
        {"sha256": ")" + sha + R"(", "identity": "b", "roles": ["agent"]}]})");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()),
             Contains("tokens[1].sha256: same hash as tokens[0]"));
}

TEST_CASE("Tokens file: a value that is not a hex SHA-256 is never echoed",
          "[auth]") {
  TempDir dir;
  for (const std::string& bad : std::vector<std::string>{
           std::string("plain-secret-token"), std::string(kAgentSha).substr(1),
           std::string(
               "A4BB8EB2694D411DA416B87A85C56B53228046F59D1C81B2FA21A8E3"
               "15A2042A")}) {
    absl::Status s =
        LoadTokens(dir, R"({"tokens": [{"sha256": ")" + bad +
                            R"(", "identity": "a", "roles": ["agent"]}]})");
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.message()), Contains("tokens[0].sha256"));
    CHECK_THAT(std::string(s.message()), !Contains(bad));
  }
}

TEST_CASE("Tokens file: a missing file is NOT_FOUND naming it", "[auth]") {
  TempDir dir;
  AuthConfig config;
  config.tokens_file = dir.path() + "/absent.json";
  absl::Status s = Authenticator::Create(config).status();
  CHECK(s.code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(s.message()), Contains(config.tokens_file));
}

TEST_CASE("Bearer: a known token yields its identity and roles", "[auth]") {
  TempDir dir;
  auto auth = MakeAuthenticator(dir);
  absl::StatusOr<Principal> p =
      auth->AuthenticateBearer(std::string("Bearer ") + kAgentToken);
  REQUIRE(p.ok());
  CHECK(p->id == "agent-demo");
  CHECK(p->roles == std::set<Role>{Role::kAgent});
  CHECK(p->method == "token");

  p = auth->AuthenticateBearer(std::string("bearer ") + kReviewerToken);
  REQUIRE(p.ok());
  CHECK(p->id == "bob");
  CHECK(p->roles == std::set<Role>{Role::kReviewer, Role::kAdmin});
}

TEST_CASE("Bearer: an unknown token is UNAUTHENTICATED without echoing it",
          "[auth]") {
  TempDir dir;
  auto auth = MakeAuthenticator(dir);
  const std::string token = "not-a-configured-token-xyz";
  absl::StatusOr<Principal> p = auth->AuthenticateBearer("Bearer " + token);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(p.status().message()), !Contains(token));
}

TEST_CASE("Bearer: a malformed header is UNAUTHENTICATED without echoing it",
          "[auth]") {
  TempDir dir;
  auto auth = MakeAuthenticator(dir);
  const std::string token = kAgentToken;
  for (const std::string& header : std::vector<std::string>{
           "Basic " + token, token, "Bearer", "Bearer ", "Bearer  " + token,
           "Bearer " + token + " ", "Bearer " + token + " extra",
           "Bearer " + token + "\n", "Token " + token}) {
    absl::StatusOr<Principal> p = auth->AuthenticateBearer(header);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
    CHECK_THAT(std::string(p.status().message()),
               Equals("malformed authorization header: expected 'Bearer "
                      "<token>'"));
  }
}

TEST_CASE("Certificate: one URI SAN is the identity", "[auth]") {
  TempDir dir;
  TestPki pki;
  auto auth = MakeAuthenticator(dir);
  absl::StatusOr<Principal> p =
      auth->AuthenticateCertificate(pki.Client({kCarol}, "").cert_pem);
  REQUIRE(p.ok());
  CHECK(p->id == kCarol);
  CHECK(p->roles == std::set<Role>{Role::kReviewer});
  CHECK(p->method == "mtls");
}

TEST_CASE("Certificate: a URI SAN wins over the subject CN", "[auth]") {
  TempDir dir;
  TestPki pki;
  auto auth = MakeAuthenticator(dir);
  absl::StatusOr<Principal> p = auth->AuthenticateCertificate(
      pki.Client({kCarol}, "legacy-client").cert_pem);
  REQUIRE(p.ok());
  CHECK(p->id == kCarol);
}

TEST_CASE("Certificate: two URI SANs are UNAUTHENTICATED", "[auth]") {
  TempDir dir;
  TestPki pki;
  auto auth = MakeAuthenticator(dir);
  absl::StatusOr<Principal> p = auth->AuthenticateCertificate(
      pki.Client({kCarol, "spiffe://example.org/admin/eve"}, "").cert_pem);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(p.status().message()), Contains("2 URI SANs"));
}

TEST_CASE("Certificate: without a URI SAN the subject CN is the identity",
          "[auth]") {
  TempDir dir;
  TestPki pki;
  auto auth = MakeAuthenticator(dir);
  absl::StatusOr<Principal> p =
      auth->AuthenticateCertificate(pki.Client({}, "legacy-client").cert_pem);
  REQUIRE(p.ok());
  CHECK(p->id == "legacy-client");
  CHECK(p->roles == std::set<Role>{Role::kAgent});
  CHECK(p->method == "mtls");
}

TEST_CASE("Certificate: neither URI SAN nor CN is UNAUTHENTICATED", "[auth]") {
  TempDir dir;
  TestPki pki;
  auto auth = MakeAuthenticator(dir);
  absl::StatusOr<Principal> p =
      auth->AuthenticateCertificate(pki.Client({}, "").cert_pem);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
}

TEST_CASE("Certificate: an identity without roles is PERMISSION_DENIED",
          "[auth]") {
  TempDir dir;
  TestPki pki;
  auto auth = MakeAuthenticator(dir);
  absl::StatusOr<Principal> p = auth->AuthenticateCertificate(
      pki.Client({"spiffe://example.org/agent/mallory"}, "").cert_pem);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK_THAT(std::string(p.status().message()),
             Equals("certificate identity spiffe://example.org/agent/mallory "
                    "has no roles configured"));
}

TEST_CASE("Certificate: garbage is UNAUTHENTICATED", "[auth]") {
  TempDir dir;
  auto auth = MakeAuthenticator(dir);
  for (const std::string& pem : std::vector<std::string>{
           std::string(), std::string("not a certificate"),
           std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
                       "CERTIFICATE-----\n")}) {
    absl::StatusOr<Principal> p = auth->AuthenticateCertificate(pem);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
  }
}

TEST_CASE("An authenticator without a tokens file refuses every token",
          "[auth]") {
  AuthConfig config;
  config.mtls_identities = {{kCarol, {Role::kReviewer}}};
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(config);
  REQUIRE(auth.ok());
  absl::StatusOr<Principal> p =
      (*auth)->AuthenticateBearer(std::string("Bearer ") + kAgentToken);
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace approval
