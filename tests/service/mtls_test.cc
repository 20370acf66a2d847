// mTLS identities end to end: a verified client certificate is an identity,
// and that identity cannot approve its own request either.
#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {
namespace {

constexpr char kCarol[] = "spiffe://test.example/ops/carol";

std::unique_ptr<v1::ApprovalBroker::Stub> TlsStub(BrokerHarness& h,
                                                  const TestPki& pki,
                                                  const KeyPair* client) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pki.ca().cert_pem;
  if (client != nullptr) {
    options.pem_private_key = client->key_pem;
    options.pem_cert_chain = client->cert_pem;
  }
  auto channel =
      grpc::CreateChannel(absl::StrCat("localhost:", h.server().port()),
                          grpc::SslCredentials(options));
  return v1::ApprovalBroker::NewStub(channel);
}

std::unique_ptr<grpc::ClientContext> Deadline() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return ctx;
}

TEST_CASE("an mTLS identity cannot approve its own request",
          "[service][postgres][mtls]") {
  TestPki pki;
  TempDir dir;
  Config config = TlsHarnessConfig(pki, dir);
  // Carol may both request and review: the rule must still hold.
  config.auth.mtls_identities = {{kCarol, {Role::kAgent, Role::kReviewer}}};

  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness h(*store, config);
  KeyPair carol = pki.Client({kCarol}, "carol");
  auto as_carol = TlsStub(h, pki, &carol);

  v1::RequestApprovalResponse created;
  grpc::Status s =
      as_carol->RequestApproval(Deadline().get(), ExportRequest(), &created);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(created.approval().requester() == kCarol);
  const std::string id = created.approval().id();

  v1::DecideRequest decide;
  decide.set_approval_id(id);
  decide.set_verdict(v1::APPROVE);
  v1::DecideResponse decided;
  s = as_carol->Decide(Deadline().get(), decide, &decided);
  CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_THAT(s.error_message(), Catch::Contains("self-approval refused"));

  absl::StatusOr<std::vector<AuditEvent>> audit = store->AuditEvents(0, 10);
  REQUIRE(audit.ok());
  REQUIRE(audit->size() == 2);
  CHECK(audit->at(1).type == EventType::kDecisionRefused);
  CHECK(audit->at(1).actor == kCarol);

  // A token reviewer over the same TLS port (no client certificate) can.
  auto as_alice = TlsStub(h, pki, nullptr);
  auto ctx = Deadline();
  ctx->AddMetadata("authorization", "Bearer " + h.Token("alice"));
  s = as_alice->Decide(ctx.get(), decide, &decided);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(decided.approval().state() == v1::APPROVED);
  CHECK(decided.approval().decided_by() == "alice");
}

TEST_CASE("a certificate from another CA is refused at the handshake",
          "[service][postgres][mtls]") {
  TestPki pki, stranger;
  TempDir dir;
  Config config = TlsHarnessConfig(pki, dir);
  config.auth.mtls_identities = {{kCarol, {Role::kReviewer}}};
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness h(*store, config);
  KeyPair forged = stranger.Client({kCarol}, "carol");
  auto stub = TlsStub(h, pki, &forged);
  v1::ListApprovalsResponse list;
  grpc::Status s = stub->ListApprovals(Deadline().get(), {}, &list);
  CHECK_FALSE(s.ok());
  CHECK(s.error_code() != grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace approval::testing
