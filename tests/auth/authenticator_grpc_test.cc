// Authenticator::Authenticate against real gRPC calls over TLS with client
// certificate verification: a tiny generic service answers "who am I".
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "server/auth/authenticator.h"
#include "tests/support/certs/test_certs.h"

namespace approval {
namespace {

using Catch::Matchers::Contains;
using testing::KeyPair;
using testing::TempDir;
using testing::TestPki;

constexpr char kCarol[] = "spiffe://example.org/reviewer/carol";
constexpr char kAgentToken[] = "agent-token-1";
constexpr char kAgentSha[] =
    "a4bb8eb2694d411da416b87a85c56b53228046f59d1c81b2fa21a8e315a2042a";
constexpr char kWhoAmI[] = "/approval.test.Auth/WhoAmI";

// Replies "<method> <id> <roles>" or fails with the authentication status.
class WhoAmIService final : public grpc::CallbackGenericService {
 public:
  explicit WhoAmIService(const Authenticator& auth) : auth_(auth) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* ctx) override {
    return new Reactor(auth_.Authenticate(*ctx));
  }

 private:
  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(const absl::StatusOr<Principal>& p) {
      if (!p.ok()) {
        Finish(grpc::Status(static_cast<grpc::StatusCode>(p.status().code()),
                            std::string(p.status().message())));
        return;
      }
      std::vector<std::string> roles;
      for (Role r : p->roles) roles.emplace_back(RoleName(r));
      const std::string body =
          absl::StrCat(p->method, " ", p->id, " ", absl::StrJoin(roles, ","));
      grpc::Slice slice(body);
      response_ = grpc::ByteBuffer(&slice, 1);
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    }
    void OnDone() override { delete this; }

   private:
    grpc::ByteBuffer response_;
  };

  const Authenticator& auth_;
};

struct CallResult {
  grpc::Status status;
  std::string body;
};

// A TLS server on 127.0.0.1:<port chosen by the OS> that requests client
// certificates and verifies them against the test CA.
class TlsServer final {
 public:
  explicit TlsServer(const TestPki& pki) {
    AuthConfig config;
    config.tokens_file = dir_.Write(
        "tokens.json", absl::StrCat(R"({"tokens": [{"sha256": ")", kAgentSha,
                                    R"(", "identity": "agent-demo",
                                        "roles": ["agent"]}]})"));
    config.mtls_identities = {{kCarol, {Role::kReviewer}}};
    absl::StatusOr<std::unique_ptr<Authenticator>> auth =
        Authenticator::Create(config);
    REQUIRE(auth.ok());
    auth_ = *std::move(auth);
    service_ = std::make_unique<WhoAmIService>(*auth_);

    const KeyPair server = pki.Server();
    grpc::SslServerCredentialsOptions options(
        GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    options.pem_root_certs = pki.ca().cert_pem;
    options.pem_key_cert_pairs.push_back({server.key_pem, server.cert_pem});

    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(options),
                             &port_);
    builder.RegisterCallbackGenericService(service_.get());
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    REQUIRE(port_ > 0);
  }

  ~TlsServer() { server_->Shutdown(); }

  // One WhoAmI call with the given client certificate (none if empty) and
  // bearer token (none if empty).
  CallResult Call(const std::string& ca_pem, const KeyPair& client,
                  const std::string& token = "") const {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ca_pem;
    options.pem_private_key = client.key_pem;
    options.pem_cert_chain = client.cert_pem;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port_), grpc::SslCredentials(options), args);
    grpc::GenericStub stub(channel);

    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    grpc::Slice slice(std::string("?"));
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    CallResult result;
    absl::Notification done;
    stub.UnaryCall(&ctx, kWhoAmI, grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     result.status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    std::vector<grpc::Slice> slices;
    if (result.status.ok() && response.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) {
        result.body.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    return result;
  }

 private:
  TempDir dir_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<WhoAmIService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_CASE("mTLS: a verified client certificate authenticates the call",
          "[auth][grpc]") {
  TestPki pki;
  TlsServer server(pki);
  CallResult r = server.Call(pki.ca().cert_pem, pki.Client({kCarol}, ""));
  INFO(r.status.error_message());
  REQUIRE(r.status.ok());
  CHECK(r.body == absl::StrCat("mtls ", kCarol, " reviewer"));
}

TEST_CASE("mTLS: a bearer token takes precedence over the certificate",
          "[auth][grpc]") {
  TestPki pki;
  TlsServer server(pki);
  CallResult r =
      server.Call(pki.ca().cert_pem, pki.Client({kCarol}, ""), kAgentToken);
  INFO(r.status.error_message());
  REQUIRE(r.status.ok());
  CHECK(r.body == "token agent-demo agent");
}

TEST_CASE("mTLS: a bad bearer token does not fall back to the certificate",
          "[auth][grpc]") {
  TestPki pki;
  TlsServer server(pki);
  CallResult r =
      server.Call(pki.ca().cert_pem, pki.Client({kCarol}, ""), "wrong-token");
  CHECK(r.status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK_THAT(r.status.error_message(), !Contains("wrong-token"));
}

TEST_CASE("mTLS: no certificate and no token is UNAUTHENTICATED",
          "[auth][grpc]") {
  TestPki pki;
  TlsServer server(pki);
  CallResult r = server.Call(pki.ca().cert_pem, KeyPair{});
  CHECK(r.status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK_THAT(r.status.error_message(), Contains("missing credentials"));
}

TEST_CASE("mTLS: an unconfigured certificate identity is PERMISSION_DENIED",
          "[auth][grpc]") {
  TestPki pki;
  TlsServer server(pki);
  CallResult r =
      server.Call(pki.ca().cert_pem, pki.Client({}, "unlisted-client"));
  CHECK(r.status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(r.status.error_message() ==
        "certificate identity unlisted-client has no roles configured");
}

TEST_CASE("mTLS: a CA:TRUE certificate is refused whatever its keyUsage",
          "[auth][grpc]") {
  TestPki pki;
  TlsServer server(pki);
  // The TLS handshake accepts it (it is signed by the client CA and may
  // sign the handshake); the authenticator must not make it a caller.
  testing::ClientSpec spec;
  spec.uri_sans = {kCarol};
  spec.basic_constraints = "critical,CA:TRUE";
  spec.key_usage = "critical,digitalSignature";
  CallResult r = server.Call(pki.ca().cert_pem, pki.Client(spec));
  CHECK(r.status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK_THAT(r.status.error_message(), Contains("CA certificate"));
  // Nor a leaf whose key signs certificates.
  spec.basic_constraints = "critical,CA:FALSE";
  spec.key_usage = "critical,digitalSignature,keyCertSign";
  r = server.Call(pki.ca().cert_pem, pki.Client(spec));
  CHECK(r.status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
}

TEST_CASE("mTLS: a certificate from another CA fails the handshake",
          "[auth][grpc]") {
  TestPki pki;
  TestPki other;
  TlsServer server(pki);
  CallResult r = server.Call(pki.ca().cert_pem, other.Client({kCarol}, ""));
  CHECK(r.status.error_code() == grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace approval
