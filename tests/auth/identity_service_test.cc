// Identity end to end: a real broker (MemoryStore) over TLS with OIDC tokens
// (JWKS file), SPIFFE client certificates, bearer tokens, canonical
// principals and on-behalf-of, called through gRPC.
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/text_serializer.h"
#include "server/store/memory_store.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/identity/token_minter.h"
#include "tests/support/keys/test_keys.h"

namespace approval::testing {
namespace {

using Catch::Matchers::Contains;
using grpc::StatusCode;
using Json = nlohmann::json;

constexpr char kIssuer[] = "https://idp.corp.test";
constexpr char kAudience[] = "approval-broker";
constexpr char kAliceCert[] = "spiffe://corp.test/user/alice";
constexpr char kBuilderCert[] = "spiffe://corp.test/agent/builder";

const TestKey& IdpKey() {
  static const TestKey* const key = new TestKey(TestKey::Rsa("idp-2025"));
  return *key;
}

// A broker whose callers are:
//   alice    OIDC sub alice, certificate kAliceCert, harness token "alice"
//   builder  harness token "agent-2", certificate kBuilderCert
//   agent-1  harness token, acting for alice (auth.on_behalf_of)
//   bob      harness token, reviewer
class IdentityBroker {
 public:
  IdentityBroker() : store_([] { return absl::Now(); }, TestSigner()) {
    Config config = TlsHarnessConfig(pki_, dir_);
    OidcConfig& oidc = config.auth.oidc;
    oidc.issuer = kIssuer;
    oidc.audience = kAudience;
    oidc.jwks_file = dir_.Write("jwks.json", JwksJson({IdpKey()}));
    oidc.groups_claim = "groups";
    oidc.group_roles = {{"approvers", {Role::kReviewer}},
                        {"requesters", {Role::kAgent}}};
    config.auth.spiffe.trust_domain = "corp.test";
    config.auth.mtls_identities = {{kAliceCert, {Role::kReviewer}},
                                   {kBuilderCert, {Role::kAgent}}};
    config.auth.principals = {
        {"alice", {"oidc:alice", kAliceCert, "token:alice"}},
        {"builder", {"token:agent-2", kBuilderCert}}};
    config.auth.on_behalf_of = {{"token:agent-1", "alice"}};
    REQUIRE(ValidateConfig(config).ok());
    harness_ = std::make_unique<BrokerHarness>(store_, config);
  }

  BrokerHarness& harness() { return *harness_; }
  MemoryStore& store() { return store_; }
  const TestPki& pki() const { return pki_; }

  // A stub over TLS presenting `client` (none if null).
  std::unique_ptr<v1::ApprovalBroker::Stub> Stub(
      const KeyPair* client = nullptr) const {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = pki_.ca().cert_pem;
    if (client != nullptr) {
      options.pem_private_key = client->key_pem;
      options.pem_cert_chain = client->cert_pem;
    }
    return v1::ApprovalBroker::NewStub(grpc::CreateChannel(
        absl::StrCat("localhost:", harness_->server().port()),
        grpc::SslCredentials(options)));
  }

  // A context sending `token` (none if empty), 30 s deadline.
  static std::unique_ptr<grpc::ClientContext> Context(
      const std::string& token = "") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  // An IdP token for `sub` in `groups`.
  static std::string OidcToken(const std::string& sub,
                               std::vector<std::string> groups,
                               Json act = Json()) {
    Json claims = Claims(kIssuer, kAudience, sub, absl::Now());
    claims["groups"] = std::move(groups);
    if (!act.is_null()) claims["act"] = std::move(act);
    return Mint(claims, IdpKey());
  }

  grpc::Status Request(const std::string& token, const KeyPair* cert,
                       v1::RequestApprovalResponse* resp) const {
    return Stub(cert)->RequestApproval(Context(token).get(), ExportRequest(),
                                       resp);
  }

  grpc::Status Decide(const std::string& token, const KeyPair* cert,
                      const std::string& id,
                      v1::DecideResponse* resp = nullptr) const {
    v1::DecideRequest req;
    req.set_approval_id(id);
    req.set_verdict(v1::APPROVE);
    v1::DecideResponse ignored;
    return Stub(cert)->Decide(Context(token).get(), req,
                              resp != nullptr ? resp : &ignored);
  }

  std::string Metrics() {
    return prometheus::TextSerializer().Serialize(
        harness_->metrics().registry()->Collect());
  }

  AuditEvent LastAuditEvent() {
    absl::StatusOr<std::vector<AuditEvent>> audit = store_.AuditEvents(0, 1000);
    REQUIRE(audit.ok());
    REQUIRE_FALSE(audit->empty());
    return audit->back();
  }

 private:
  TestPki pki_;
  TempDir dir_;
  MemoryStore store_;
  std::unique_ptr<BrokerHarness> harness_;
};

std::string RefusalSeries(const std::string& code, const std::string& reason,
                          int count) {
  return absl::StrCat("approval_refusals_total{code=\"", code, "\",reason=\"",
                      reason, "\"} ", count);
}

TEST_CASE(
    "the same human via OIDC and via certificate cannot approve their "
    "own request",
    "[identity][service]") {
  IdentityBroker b;
  v1::RequestApprovalResponse created;
  grpc::Status s =
      b.Request(IdentityBroker::OidcToken("alice", {"requesters", "approvers"}),
                nullptr, &created);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(created.approval().requester() == "alice");
  CHECK(created.approval().on_behalf_of().empty());
  const std::string id = created.approval().id();

  const KeyPair alice_cert = b.pki().Client({kAliceCert}, "");
  s = b.Decide("", &alice_cert, id);
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK_THAT(s.error_message(), Contains("self-approval refused"));
  AuditEvent refused = b.LastAuditEvent();
  CHECK(refused.type == EventType::kDecisionRefused);
  CHECK(refused.actor == "alice");
  CHECK(refused.approval_id == id);

  // Nor with her legacy bearer token, linked to the same principal.
  s = b.Decide(b.harness().Token("alice"), nullptr, id);
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);

  CHECK_THAT(b.Metrics(),
             Contains(RefusalSeries("permission_denied", "self_approval", 2)));
  CHECK_THAT(b.Metrics(), Contains("approval_self_approvals_refused_total 2"));

  v1::DecideResponse decided;
  s = b.Decide(b.harness().Token("bob"), nullptr, id, &decided);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(decided.approval().decided_by() == "bob");
}

TEST_CASE("the human behind an agent cannot approve the agent's request",
          "[identity][service][on_behalf_of]") {
  IdentityBroker b;
  v1::RequestApprovalResponse created;
  grpc::Status s = b.Request(b.harness().Token("agent-1"), nullptr, &created);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(created.approval().requester() == "agent-1");
  CHECK(created.approval().on_behalf_of() == "alice");
  const std::string id = created.approval().id();

  s = b.Decide(IdentityBroker::OidcToken("alice", {"approvers"}), nullptr, id);
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK_THAT(s.error_message(), Contains("alice is the human behind agent-1"));
  AuditEvent refused = b.LastAuditEvent();
  CHECK(refused.type == EventType::kDecisionRefused);
  CHECK(refused.actor == "alice");
  CHECK_THAT(refused.details_json, Contains("human behind"));

  const KeyPair alice_cert = b.pki().Client({kAliceCert}, "");
  s = b.Decide("", &alice_cert, id);
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK_THAT(b.Metrics(),
             Contains(RefusalSeries("permission_denied",
                                    "on_behalf_of_self_approval", 2)));

  v1::DecideResponse decided;
  s = b.Decide(b.harness().Token("bob"), nullptr, id, &decided);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(decided.approval().state() == v1::APPROVED);
  CHECK(decided.approval().on_behalf_of() == "alice");
}

TEST_CASE("an agent acting through an act claim is recorded with its human",
          "[identity][service][on_behalf_of]") {
  IdentityBroker b;
  // The IdP exchanged alice's token for one her CI runner acts with.
  const std::string delegated = IdentityBroker::OidcToken(
      "alice", {"requesters", "approvers"}, {{"sub", "ci-runner"}});
  v1::RequestApprovalResponse created;
  grpc::Status s = b.Request(delegated, nullptr, &created);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(created.approval().requester() == "oidc:ci-runner");
  CHECK(created.approval().on_behalf_of() == "alice");
  const std::string id = created.approval().id();

  // The agent cannot decide anything (its reviewer group is alice's).
  v1::RequestApprovalResponse other;
  REQUIRE(b.Request(b.harness().Token("agent-1"), nullptr, &other).ok());
  s = b.Decide(delegated, nullptr, other.approval().id());
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK_THAT(b.Metrics(),
             Contains(RefusalSeries("permission_denied", "missing_role", 1)));

  // Alice cannot approve what was asked on her behalf.
  const KeyPair alice_cert = b.pki().Client({kAliceCert}, "");
  s = b.Decide("", &alice_cert, id);
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK(b.Decide(b.harness().Token("bob"), nullptr, id).ok());
}

TEST_CASE("agents see only their own approvals, by canonical principal",
          "[identity][service][principal]") {
  IdentityBroker b;
  v1::RequestApprovalResponse created;
  REQUIRE(b.Request(b.harness().Token("agent-2"), nullptr, &created).ok());
  CHECK(created.approval().requester() == "builder");
  const std::string id = created.approval().id();

  // The same workload through its certificate sees it.
  const KeyPair builder_cert = b.pki().Client({kBuilderCert}, "");
  v1::ListApprovalsResponse list;
  grpc::Status s = b.Stub(&builder_cert)
                       ->ListApprovals(IdentityBroker::Context().get(),
                                       v1::ListApprovalsRequest(), &list);
  REQUIRE(s.ok());
  REQUIRE(list.approvals_size() == 1);
  CHECK(list.approvals(0).id() == id);
  v1::Approval got;
  v1::GetApprovalRequest get;
  get.set_approval_id(id);
  CHECK(b.Stub(&builder_cert)
            ->GetApproval(IdentityBroker::Context().get(), get, &got)
            .ok());

  // Another agent does not.
  s = b.Stub()->ListApprovals(
      IdentityBroker::Context(b.harness().Token("agent-1")).get(),
      v1::ListApprovalsRequest(), &list);
  REQUIRE(s.ok());
  CHECK(list.approvals_size() == 0);
  s = b.Stub()->GetApproval(
      IdentityBroker::Context(b.harness().Token("agent-1")).get(), get, &got);
  CHECK(s.error_code() == StatusCode::NOT_FOUND);
}

TEST_CASE("bad credentials are UNAUTHENTICATED over gRPC, counted by reason",
          "[identity][service]") {
  IdentityBroker b;
  v1::RequestApprovalResponse resp;

  Json claims =
      Claims(kIssuer, kAudience, "alice", absl::Now() - absl::Hours(2));
  claims["groups"] = {"requesters"};
  const std::string expired = Mint(claims, IdpKey());
  grpc::Status s = b.Request(expired, nullptr, &resp);
  CHECK(s.error_code() == StatusCode::UNAUTHENTICATED);
  CHECK(s.error_message() == "bearer token refused: expired");

  const std::string unsigned_token =
      MintUnsigned({{"alg", "none"}, {"kid", IdpKey().kid()}},
                   Claims(kIssuer, kAudience, "alice", absl::Now()));
  s = b.Request(unsigned_token, nullptr, &resp);
  CHECK(s.error_code() == StatusCode::UNAUTHENTICATED);
  CHECK_THAT(s.error_message(), !Contains(unsigned_token));

  const KeyPair two_sans =
      b.pki().Client({kAliceCert, "spiffe://corp.test/user/mallory"}, "");
  s = b.Request("", &two_sans, &resp);
  CHECK(s.error_code() == StatusCode::UNAUTHENTICATED);

  const KeyPair foreign = b.pki().Client({"spiffe://evil.test/user/alice"}, "");
  s = b.Request("", &foreign, &resp);
  CHECK(s.error_code() == StatusCode::UNAUTHENTICATED);

  ClientSpec ca;
  ca.uri_sans = {kBuilderCert};
  ca.ca = true;
  const KeyPair ca_cert = b.pki().Client(ca);
  s = b.Request("", &ca_cert, &resp);
  CHECK(s.error_code() == StatusCode::UNAUTHENTICATED);

  const KeyPair unlisted = b.pki().Client({"spiffe://corp.test/user/eve"}, "");
  s = b.Request("", &unlisted, &resp);
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);

  const std::string metrics = b.Metrics();
  CHECK_THAT(metrics,
             Contains(RefusalSeries("unauthenticated", "jwt_expired", 1)));
  CHECK_THAT(metrics,
             Contains(RefusalSeries("unauthenticated", "jwt_alg_none", 1)));
  CHECK_THAT(metrics, Contains(RefusalSeries("unauthenticated",
                                             "cert_uri_san_count", 1)));
  CHECK_THAT(metrics, Contains(RefusalSeries("unauthenticated",
                                             "cert_foreign_trust_domain", 1)));
  CHECK_THAT(metrics,
             Contains(RefusalSeries("unauthenticated", "cert_is_ca", 1)));
  CHECK_THAT(metrics,
             Contains(RefusalSeries("permission_denied", "no_roles", 1)));
  // Nothing was created by any of them.
  CHECK(b.store().CountPending().value() == 0);
}

TEST_CASE("a CA:TRUE certificate without keyCertSign cannot approve",
          "[identity][service]") {
  IdentityBroker b;
  v1::RequestApprovalResponse created;
  REQUIRE(b.Request(b.harness().Token("agent-2"), nullptr, &created).ok());
  // Signed by the client CA, names a reviewer, keyUsage digitalSignature
  // only: a CA certificate all the same (basicConstraints CA:TRUE).
  ClientSpec spec;
  spec.uri_sans = {kAliceCert};
  spec.basic_constraints = "critical,CA:TRUE";
  spec.key_usage = "critical,digitalSignature";
  const KeyPair ca_cert = b.pki().Client(spec);
  grpc::Status s = b.Decide("", &ca_cert, created.approval().id());
  CHECK(s.error_code() == StatusCode::UNAUTHENTICATED);
  CHECK_THAT(b.Metrics(),
             Contains(RefusalSeries("unauthenticated", "cert_is_ca", 1)));
  CHECK(b.store().CountPending().value() == 1);
}

TEST_CASE("an expired client certificate fails the TLS handshake",
          "[identity][service]") {
  IdentityBroker b;
  ClientSpec spec;
  spec.uri_sans = {kAliceCert};
  spec.valid_from_s = -2 * 24 * 60 * 60;
  spec.valid_until_s = -60 * 60;
  const KeyPair expired = b.pki().Client(spec);
  v1::ListApprovalsResponse list;
  grpc::Status s = b.Stub(&expired)->ListApprovals(
      IdentityBroker::Context().get(), v1::ListApprovalsRequest(), &list);
  CHECK_FALSE(s.ok());
  CHECK(s.error_code() != StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace approval::testing
