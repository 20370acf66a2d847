// What SIGHUP reloads in server/auth, through the public interfaces:
// Authenticator::Reload (tokens file, identities; the snapshot a call
// started with) and ReloadableTls (certificate, key and client CA checked
// before they reach a handshake).
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "server/auth/authenticator.h"
#include "server/auth/reloadable_tls.h"
#include "tests/support/certs/test_certs.h"
#include "wire/sha256.h"

namespace approval {
namespace {

using Catch::Matchers::Contains;
using testing::KeyPair;
using testing::PemFiles;
using testing::TempDir;
using testing::TestPki;
using testing::WriteKeyPair;

std::string TokensFile(const std::string& token, const std::string& who) {
  return R"({"tokens": [{"sha256": ")" + Sha256Hex(token) +
         R"(", "identity": ")" + who + R"(", "roles": ["reviewer"]}]})";
}

AuthConfig TokensConfig(const TempDir& dir, const std::string& token) {
  AuthConfig config;
  config.tokens_file = dir.Write("tokens.json", TokensFile(token, "alice"));
  return config;
}

absl::StatusCode Bearer(const Authenticator& auth, const std::string& token) {
  return auth.AuthenticateBearer("Bearer " + token).status().code();
}

TEST_CASE(
    "Authenticator::Reload: a revoked token is refused, a new one "
    "accepted",
    "[auth][reload]") {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(TokensConfig(dir, "old-token"));
  REQUIRE(auth.ok());
  REQUIRE(Bearer(**auth, "old-token") == absl::StatusCode::kOk);

  REQUIRE((*auth)->Reload(TokensConfig(dir, "new-token")).ok());
  CHECK(Bearer(**auth, "old-token") == absl::StatusCode::kUnauthenticated);
  CHECK(Bearer(**auth, "new-token") == absl::StatusCode::kOk);
  absl::StatusOr<Principal> p = (*auth)->AuthenticateBearer("Bearer new-token");
  REQUIRE(p.ok());
  CHECK(p->id == "alice");
}

TEST_CASE(
    "Authenticator::Reload: a bad tokens file is refused and the "
    "previous tokens stay in force",
    "[auth][reload]") {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(TokensConfig(dir, "old-token"));
  REQUIRE(auth.ok());
  AuthConfig bad;
  bad.tokens_file = dir.Write("tokens.json", R"({"tokens": [{"sha256": 1}]})");
  const absl::Status s = (*auth)->Reload(bad);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Contains("tokens.json"));
  CHECK(Bearer(**auth, "old-token") == absl::StatusCode::kOk);
}

TEST_CASE(
    "Authenticator::Reload: certificate identities follow the new "
    "mtls_identities",
    "[auth][reload]") {
  TempDir dir;
  const TestPki pki;
  const KeyPair carol = pki.Client({}, "carol");
  AuthConfig config = TokensConfig(dir, "token");
  config.mtls_identities = {{"carol", {Role::kReviewer}}};
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(config);
  REQUIRE(auth.ok());
  REQUIRE((*auth)->AuthenticateCertificate(carol.cert_pem).ok());
  config.mtls_identities = {{"dave", {Role::kReviewer}}};
  REQUIRE((*auth)->Reload(config).ok());
  CHECK((*auth)->AuthenticateCertificate(carol.cert_pem).status().code() ==
        absl::StatusCode::kPermissionDenied);
}

TlsFiles Files(const TempDir& dir, const KeyPair& server, const KeyPair& ca) {
  const PemFiles pem = WriteKeyPair(dir, "server", server);
  return TlsFiles{pem.cert_file, pem.key_file,
                  dir.Write("client-ca.pem", ca.cert_pem)};
}

TEST_CASE(
    "LoadTlsMaterial refuses what would break handshakes, naming the "
    "key and file",
    "[auth][reload][tls]") {
  TempDir dir;
  const TestPki pki;
  const KeyPair server = pki.Server();
  TlsFiles files = Files(dir, server, pki.ca());
  REQUIRE(LoadTlsMaterial(files).ok());

  SECTION("a key that is not the certificate's") {
    dir.Write("server.key", pki.Server().key_pem);
    const absl::Status s = LoadTlsMaterial(files).status();
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.message()),
               Contains("tls.key_file") && Contains("not the key of"));
  }
  SECTION("a certificate file without a certificate") {
    dir.Write("server.crt", "not a certificate");
    CHECK_THAT(std::string(LoadTlsMaterial(files).status().message()),
               Contains("tls.cert_file") && Contains("no PEM certificate"));
  }
  SECTION("an empty client CA bundle") {
    dir.Write("client-ca.pem", "");
    CHECK_THAT(std::string(LoadTlsMaterial(files).status().message()),
               Contains("tls.client_ca_file"));
  }
  SECTION("a missing file") {
    files.key_file = dir.path() + "/absent.key";
    CHECK_THAT(std::string(LoadTlsMaterial(files).status().message()),
               Contains("tls.key_file"));
  }
  SECTION("never the key material") {
    dir.Write("server.key", server.key_pem.substr(0, 80));
    const std::string message(LoadTlsMaterial(files).status().message());
    CHECK_THAT(message, Contains("tls.key_file"));
    CHECK_THAT(message, !Contains(server.key_pem.substr(30, 40)));
  }
}

TEST_CASE(
    "ReloadableTls::Reload swaps the leaf on success and keeps it on "
    "failure",
    "[auth][reload][tls]") {
  TempDir dir;
  const TestPki first;
  const TestPki second;
  absl::StatusOr<std::unique_ptr<ReloadableTls>> tls =
      ReloadableTls::Create(Files(dir, first.Server(), first.ca()));
  REQUIRE(tls.ok());
  const std::string before = (*tls)->LeafFingerprint();
  REQUIRE(before.size() == 64);

  const TlsFiles files = Files(dir, second.Server(), second.ca());
  REQUIRE((*tls)->Reload(files).ok());
  const std::string after = (*tls)->LeafFingerprint();
  CHECK(after != before);

  dir.Write("server.key", first.Server().key_pem);
  CHECK((*tls)->Reload(files).code() == absl::StatusCode::kInvalidArgument);
  CHECK((*tls)->LeafFingerprint() == after);
}

}  // namespace
}  // namespace approval
