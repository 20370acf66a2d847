// SIGHUP in the approval-broker process (README "Operating the broker"):
// the config file is read again and the tokens file, OIDC settings, TLS
// certificate and client CA and signing keys reload; a bad new file keeps
// the old one, is logged and counted in approval_reloads_total{what,result}.
// Every wait is bounded and on an event (the metric), never a fixed sleep.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"
#include "server/domain/token_signer.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/identity/token_minter.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/process/serve_process.h"
#include "wire/canonical.h"

namespace approval::testing {
namespace {

constexpr char kAgentToken[] = "reload-test-agent-token";
constexpr char kAliceToken[] = "reload-test-alice-token";
constexpr char kAliceNewToken[] = "reload-test-alice-new-token";

nlohmann::json TokenEntry(const std::string& token, const std::string& who,
                          const std::string& role) {
  return {{"sha256", Sha256Hex(token)}, {"identity", who}, {"roles", {role}}};
}

std::string TokensFile(const std::vector<nlohmann::json>& entries) {
  return nlohmann::json{{"tokens", entries}}.dump();
}

// A broker process whose config file the test rewrites before each SIGHUP.
class ReloadingBroker final {
 public:
  // `config`: everything but the database and addresses, which are added.
  ReloadingBroker(const TestDatabase& db, const TempDir& dir,
                  nlohmann::json config,
                  std::shared_ptr<grpc::ChannelCredentials> health = nullptr)
      : dir_(dir), config_(std::move(config)) {
    config_["database_url"] = db.app_url();
    config_["listen_address"] = "127.0.0.1:0";
    config_["metrics_address"] = "127.0.0.1:0";
    process_ = std::make_unique<ServeProcess>(
        dir.Write("config.json", config_.dump()), dir.path() + "/serve.log");
    process_->SetHealthCredentials(std::move(health));
    process_->Start();
  }
  ~ReloadingBroker() { CHECK(process_->Stop() == 0); }

  nlohmann::json& config() { return config_; }
  const std::string& address() const { return process_->address(); }
  std::string Log() const { return process_->Log(); }

  // Writes config() and sends SIGHUP.
  void Reload() {
    dir_.Write("config.json", config_.dump());
    Signal();
  }
  // SIGHUP with the config file as it is.
  void Signal() { process_->Signal(SIGHUP); }

  // Bounded wait until approval_reloads_total{what,result} reaches `count`.
  bool AwaitReloads(const std::string& what, const std::string& result,
                    int count) const {
    const std::string line =
        absl::StrCat("approval_reloads_total{result=\"", result, "\",what=\"",
                     what, "\"} ", count, "\n");
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (absl::Now() < give_up) {
      if (HttpGet(process_->metrics_port(), "/metrics").find(line) !=
          std::string::npos) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

 private:
  const TempDir& dir_;
  nlohmann::json config_;
  std::unique_ptr<ServeProcess> process_;
};

// GetSigningKey (any authenticated caller) on a fresh connection.
grpc::Status GetSigningKey(const std::string& address,
                           std::shared_ptr<grpc::ChannelCredentials> creds,
                           const std::string& bearer, v1::SigningKey* out) {
  grpc::ChannelArguments args;
  // A new TLS handshake for every call, never a connection kept from before.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = v1::ApprovalBroker::NewStub(grpc::CreateCustomChannel(
      address, creds != nullptr ? creds : grpc::InsecureChannelCredentials(),
      args));
  grpc::ClientContext ctx;
  if (!bearer.empty()) ctx.AddMetadata("authorization", "Bearer " + bearer);
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::SigningKey ignored;
  return stub->GetSigningKey(&ctx, v1::GetSigningKeyRequest(),
                             out != nullptr ? out : &ignored);
}

grpc::StatusCode Code(const std::string& address, const std::string& bearer) {
  return GetSigningKey(address, nullptr, bearer, nullptr).error_code();
}

nlohmann::json BaseConfig(const TempDir& dir) {
  return {{"signing_key_file", TestSigningKeyFile()},
          {"fingerprint_key_file",
           dir.Write("fingerprint.key",
                     "test-only fingerprint key, 32+ bytes long")},
          {"auth",
           {{"tokens_file",
             dir.Write("tokens.json",
                       TokensFile(
                           {TokenEntry(kAgentToken, "agent-1", "agent"),
                            TokenEntry(kAliceToken, "alice", "reviewer")}))}}}};
}

TEST_CASE(
    "SIGHUP reloads the tokens file: a revoked token is refused, a new one "
    "accepted, and a bad file keeps the previous tokens",
    "[reload][postgres][process]") {
  TestDatabase db;
  TempDir dir;
  ReloadingBroker broker(db, dir, BaseConfig(dir));
  REQUIRE(Code(broker.address(), kAliceToken) == grpc::StatusCode::OK);
  REQUIRE(Code(broker.address(), kAliceNewToken) ==
          grpc::StatusCode::UNAUTHENTICATED);

  // Rotation: alice's old token revoked, a new one issued.
  dir.Write("tokens.json",
            TokensFile({TokenEntry(kAgentToken, "agent-1", "agent"),
                        TokenEntry(kAliceNewToken, "alice", "reviewer")}));
  broker.Reload();
  REQUIRE(broker.AwaitReloads("auth", "ok", 1));
  CHECK(Code(broker.address(), kAliceToken) ==
        grpc::StatusCode::UNAUTHENTICATED);
  CHECK(Code(broker.address(), kAliceNewToken) == grpc::StatusCode::OK);

  // A file that does not parse: the tokens loaded before stay in force.
  dir.Write("tokens.json", "{\"tokens\": [");
  broker.Reload();
  REQUIRE(broker.AwaitReloads("auth", "error", 1));
  CHECK(Code(broker.address(), kAliceNewToken) == grpc::StatusCode::OK);
  CHECK(Code(broker.address(), kAliceToken) ==
        grpc::StatusCode::UNAUTHENTICATED);
  CHECK_THAT(broker.Log(),
             Catch::Contains("auth reload failed, the previous auth stays in "
                             "force") &&
                 Catch::Contains("\"event\":\"reload_failed\""));
}

TEST_CASE(
    "SIGHUP with a config file that does not parse changes nothing and is "
    "counted, and a restart-only setting is logged as ignored",
    "[reload][postgres][process]") {
  TestDatabase db;
  TempDir dir;
  ReloadingBroker broker(db, dir, BaseConfig(dir));
  // A new tokens file is ready, but the config file is broken.
  dir.Write("tokens.json",
            TokensFile({TokenEntry(kAliceNewToken, "alice", "reviewer")}));
  dir.Write("config.json", "{\"auth\": ");
  broker.Signal();
  REQUIRE(broker.AwaitReloads("config", "error", 1));
  CHECK(Code(broker.address(), kAliceToken) == grpc::StatusCode::OK);
  CHECK(Code(broker.address(), kAliceNewToken) ==
        grpc::StatusCode::UNAUTHENTICATED);

  // Fixed, with a setting only a restart applies.
  broker.config()["shutdown_grace"] = "7s";
  broker.Reload();
  REQUIRE(broker.AwaitReloads("config", "ok", 1));
  REQUIRE(broker.AwaitReloads("auth", "ok", 1));
  CHECK(Code(broker.address(), kAliceNewToken) == grpc::StatusCode::OK);
  CHECK_THAT(
      broker.Log(),
      Catch::Contains("\"event\":\"reload_ignored\"") &&
          Catch::Contains("shutdown_grace changed in the config file: ignored "
                          "until restart"));
}

// The TLS options of a client that trusts `ca` (and presents `client`, if
// set) for 127.0.0.1 (the test server certificates' IP SAN).
std::shared_ptr<grpc::ChannelCredentials> TlsClient(const KeyPair& ca,
                                                    const KeyPair* client) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca.cert_pem;
  if (client != nullptr) {
    options.pem_private_key = client->key_pem;
    options.pem_cert_chain = client->cert_pem;
  }
  return grpc::SslCredentials(options);
}

TEST_CASE(
    "SIGHUP rotates the TLS server certificate and client CA: new handshakes "
    "use the new ones, mTLS leaf checks still apply, a mismatched key keeps "
    "the old ones",
    "[reload][postgres][process][tls]") {
  TestDatabase db;
  TempDir dir;
  const TestPki old_pki;
  const TestPki new_pki;
  const PemFiles server = WriteKeyPair(dir, "server", old_pki.Server());
  nlohmann::json config = BaseConfig(dir);
  config["tls"] = {
      {"cert_file", server.cert_file},
      {"key_file", server.key_file},
      {"client_ca_file", dir.Write("client-ca.pem", old_pki.ca().cert_pem)}};
  config["auth"]["mtls_identities"] = {
      {{"identity", "carol"}, {"roles", {"reviewer"}}}};
  ReloadingBroker broker(db, dir, config, TlsClient(old_pki.ca(), nullptr));
  const KeyPair old_carol = old_pki.Client({}, "carol");
  const KeyPair new_carol = new_pki.Client({}, "carol");
  auto call = [&](const KeyPair& ca, const KeyPair* client,
                  const std::string& bearer) {
    return GetSigningKey(broker.address(), TlsClient(ca, client), bearer,
                         nullptr)
        .error_code();
  };
  REQUIRE(call(old_pki.ca(), nullptr, kAliceToken) == grpc::StatusCode::OK);
  REQUIRE(call(old_pki.ca(), &old_carol, "") == grpc::StatusCode::OK);
  REQUIRE(call(new_pki.ca(), nullptr, kAliceToken) ==
          grpc::StatusCode::UNAVAILABLE);

  WriteKeyPair(dir, "server", new_pki.Server());
  dir.Write("client-ca.pem", new_pki.ca().cert_pem);
  broker.Reload();
  REQUIRE(broker.AwaitReloads("tls", "ok", 1));
  // A client that trusts only the new CA connects; one that trusts only the
  // old one no longer does.
  CHECK(call(new_pki.ca(), nullptr, kAliceToken) == grpc::StatusCode::OK);
  CHECK(call(old_pki.ca(), nullptr, kAliceToken) ==
        grpc::StatusCode::UNAVAILABLE);
  // Client certificates now chain to the new client CA, and the leaf
  // checks still run: a CA certificate presented as a client is refused.
  CHECK(call(new_pki.ca(), &new_carol, "") == grpc::StatusCode::OK);
  CHECK(call(new_pki.ca(), &old_carol, "") != grpc::StatusCode::OK);
  ClientSpec ca_as_client;
  ca_as_client.cn = "carol";
  ca_as_client.ca = true;
  const KeyPair ca_carol = new_pki.Client(ca_as_client);
  CHECK(call(new_pki.ca(), &ca_carol, "") == grpc::StatusCode::UNAUTHENTICATED);

  // A key that is not the certificate's: refused, the new pair stays.
  const KeyPair other = old_pki.Server();
  dir.Write("server.key", other.key_pem);
  broker.Reload();
  REQUIRE(broker.AwaitReloads("tls", "error", 1));
  CHECK(call(new_pki.ca(), nullptr, kAliceToken) == grpc::StatusCode::OK);
  CHECK_THAT(broker.Log(), Catch::Contains("tls reload failed") &&
                               Catch::Contains("tls.key_file"));
}

TEST_CASE(
    "SIGHUP reloads the OIDC settings: after an issuer change tokens of the "
    "old issuer are refused and tokens of the new one accepted",
    "[reload][postgres][process][oidc]") {
  TestDatabase db;
  TempDir dir;
  const TestKey key = TestKey::Ec("reload-k1");
  nlohmann::json config = BaseConfig(dir);
  config["auth"]["oidc"] = {
      {"issuer", "https://idp-old.example.org"},
      {"audience", "approval-broker"},
      {"jwks_file", dir.Write("jwks.json", JwksJson({key}))},
      {"groups_claim", "groups"},
      {"group_roles", {{"approvers", {"reviewer"}}}}};
  ReloadingBroker broker(db, dir, config);
  auto token_of = [&](const std::string& issuer) {
    nlohmann::json claims =
        Claims(issuer, "approval-broker", "dana", absl::Now());
    claims["groups"] = {"approvers"};
    return Mint(claims, key);
  };
  const std::string old_token = token_of("https://idp-old.example.org");
  const std::string new_token = token_of("https://idp-new.example.org");
  REQUIRE(Code(broker.address(), old_token) == grpc::StatusCode::OK);
  REQUIRE(Code(broker.address(), new_token) ==
          grpc::StatusCode::UNAUTHENTICATED);

  broker.config()["auth"]["oidc"]["issuer"] = "https://idp-new.example.org";
  broker.Reload();
  REQUIRE(broker.AwaitReloads("auth", "ok", 1));
  CHECK(Code(broker.address(), old_token) == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(Code(broker.address(), new_token) == grpc::StatusCode::OK);

  // A JWKS file that is not a key set: refused, the settings stay.
  dir.Write("jwks.json", "{\"keys\": 7}");
  broker.Reload();
  REQUIRE(broker.AwaitReloads("auth", "error", 1));
  CHECK(Code(broker.address(), new_token) == grpc::StatusCode::OK);
}

std::string PublicKeyFile(const TempDir& dir, const std::string& name,
                          const std::string& private_key_file) {
  absl::StatusOr<std::unique_ptr<TokenSigner>> signer =
      TokenSigner::FromPrivateKeyPem([&] {
        std::ifstream in(private_key_file);
        return std::string(std::istreambuf_iterator<char>(in), {});
      }());
  REQUIRE(signer.ok());
  return dir.Write(name, (*signer)->public_key_pem());
}

std::string KeyIdOf(const std::string& private_key_file) {
  std::ifstream in(private_key_file);
  absl::StatusOr<std::unique_ptr<TokenSigner>> signer =
      TokenSigner::FromPrivateKeyPem(
          std::string(std::istreambuf_iterator<char>(in), {}));
  REQUIRE(signer.ok());
  return (*signer)->key_id();
}

// The key id that sealed the latest audit event.
std::string LatestSealKeyId(const TestDatabase& db) {
  pqxx::connection c(db.admin_url());
  pqxx::work tx(c);
  const pqxx::row row =
      tx.exec1("SELECT key_id FROM audit_events ORDER BY seq DESC LIMIT 1");
  return row[0].as<std::string>();
}

grpc::Status RequestApproval(const std::string& address) {
  auto stub = v1::ApprovalBroker::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kAgentToken));
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::RequestApprovalRequest req;
  req.set_action("db.export");
  req.set_resource("customers");
  req.set_justification("reload test");
  v1::RequestApprovalResponse resp;
  return stub->RequestApproval(&ctx, req, &resp);
}

TEST_CASE(
    "SIGHUP rotates the signing key: the new key signs and seals, the old one "
    "stays published during its overlap, and a rotation that would orphan the "
    "old key is refused",
    "[reload][postgres][process][keys]") {
  TestDatabase db;
  TempDir dir;
  const std::string first_key = NewSigningKeyFile();
  const std::string second_key = NewSigningKeyFile();
  const std::string first_id = KeyIdOf(first_key);
  const std::string second_id = KeyIdOf(second_key);
  nlohmann::json config = BaseConfig(dir);
  config["signing_key_file"] = first_key;
  ReloadingBroker broker(db, dir, config);
  v1::SigningKey published;
  REQUIRE(
      GetSigningKey(broker.address(), nullptr, kAliceToken, &published).ok());
  REQUIRE(published.key_id() == first_id);
  REQUIRE(RequestApproval(broker.address()).ok());
  REQUIRE(LatestSealKeyId(db) == first_id);

  broker.config()["signing_key_file"] = second_key;
  broker.config()["approval_tokens"] = {
      {"retired_keys",
       {{{"public_key_file", PublicKeyFile(dir, "first.pub.pem", first_key)},
         {"verify_until", "2999-01-01T00:00:00Z"}}}}};
  broker.Reload();
  REQUIRE(broker.AwaitReloads("signing_keys", "ok", 1));
  REQUIRE(
      GetSigningKey(broker.address(), nullptr, kAliceToken, &published).ok());
  CHECK(published.key_id() == second_id);
  CHECK_THAT(published.jwks_json(),
             Catch::Contains(second_id) && Catch::Contains(first_id));
  REQUIRE(RequestApproval(broker.address()).ok());
  CHECK(LatestSealKeyId(db) == second_id);

  // A third key while the second is listed nowhere: refused, the second
  // key keeps signing.
  broker.config()["signing_key_file"] = NewSigningKeyFile();
  broker.Reload();
  REQUIRE(broker.AwaitReloads("signing_keys", "error", 1));
  REQUIRE(
      GetSigningKey(broker.address(), nullptr, kAliceToken, &published).ok());
  CHECK(published.key_id() == second_id);
  CHECK_THAT(broker.Log(), Catch::Contains("signing_keys reload failed") &&
                               Catch::Contains(second_id));
}

}  // namespace
}  // namespace approval::testing
