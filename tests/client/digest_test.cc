// The client trusts no answer about another action and no approval without
// a token that verifies: against a fake broker that lies about the action
// digest or hands out bad approval tokens, RequireApproval refuses with
// DATA_LOSS.
#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "approval/client.h"
#include "approval/v1/approval.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/domain/token_signer.h"
#include "tests/client/client_test_support.h"
#include "wire/canonical.h"

namespace approval::testing {
namespace {

constexpr char kId[] = "00000000-0000-4000-8000-000000000001";
constexpr char kOtherDigest[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

enum class TokenKind {
  kValid,       // signed by the key GetSigningKey returns
  kMissing,     // none at all
  kGarbage,     // not a token
  kOtherId,     // valid signature, but for another approval
  kOtherDigest  // valid signature, but for another action
};

// Answers every request at once, approving it, with the true digest unless
// told to lie in the submission's answer or in the decision, and with an
// approval token of the kind asked for.
class FakeBroker final : public v1::ApprovalBroker::Service {
 public:
  bool lie_in_answer = false;
  bool lie_in_decision = false;
  TokenKind token = TokenKind::kValid;

  // Signs from now on with a fresh key (as a restarted broker would).
  void RotateKey() {
    absl::MutexLock lock(&mu_);
    signer_ = TokenSigner::Generate();
  }
  int key_requests() {
    absl::MutexLock lock(&mu_);
    return key_requests_;
  }

  grpc::Status RequestApproval(grpc::ServerContext*,
                               const v1::RequestApprovalRequest* req,
                               v1::RequestApprovalResponse* resp) override {
    absl::StatusOr<std::string> params =
        CanonicalizeJsonObject(req->parameters_json());
    if (!params.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "parameters");
    }
    absl::MutexLock lock(&mu_);
    digest_ = ActionDigest(req->action(), req->resource(), *params);
    action_ = req->action();
    v1::Approval* a = resp->mutable_approval();
    a->set_id(kId);
    a->set_state(v1::PENDING);
    a->set_action_digest(lie_in_answer ? kOtherDigest : digest_);
    resp->set_created(true);
    return grpc::Status::OK;
  }

  grpc::Status StreamDecisions(
      grpc::ServerContext*, const v1::StreamDecisionsRequest*,
      grpc::ServerWriter<v1::DecisionEvent>* writer) override {
    v1::DecisionEvent event;
    event.set_cursor(7);
    event.set_type(v1::EVENT_APPROVED);
    event.set_actor("alice");
    v1::Approval* a = event.mutable_approval();
    a->set_id(kId);
    a->set_state(v1::APPROVED);
    a->set_decided_by("alice");
    a->mutable_requirement()->set_rule("fake-rule");
    {
      absl::MutexLock lock(&mu_);
      a->set_action_digest(lie_in_decision ? kOtherDigest : digest_);
      a->set_approval_token(TokenLocked());
    }
    writer->Write(event);
    return grpc::Status::OK;
  }

  grpc::Status GetSigningKey(grpc::ServerContext*,
                             const v1::GetSigningKeyRequest*,
                             v1::SigningKey* key) override {
    absl::MutexLock lock(&mu_);
    ++key_requests_;
    key->set_algorithm("Ed25519");
    key->set_key_id(signer_->key_id());
    key->set_public_key_pem(signer_->public_key_pem());
    return grpc::Status::OK;
  }

 private:
  std::string TokenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ApprovalClaims claims;
    claims.approval_id = token == TokenKind::kOtherId
                             ? "00000000-0000-4000-8000-000000000002"
                             : kId;
    claims.action = action_;
    claims.action_digest =
        token == TokenKind::kOtherDigest ? kOtherDigest : digest_;
    claims.approvers = {"alice"};
    claims.rule = "fake-rule";
    claims.approved_at = absl::Now() - absl::Seconds(1);
    claims.not_before = claims.approved_at;
    claims.not_after = claims.approved_at + absl::Hours(1);
    switch (token) {
      case TokenKind::kMissing:
        return "";
      case TokenKind::kGarbage:
        return "eyJub3QiOiJzaWduZWQifQ.c2lnbmF0dXJl";
      default:
        return signer_->Sign(claims);
    }
  }

  absl::Mutex mu_;
  std::string digest_ ABSL_GUARDED_BY(mu_);
  std::string action_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<TokenSigner> signer_ ABSL_GUARDED_BY(mu_) =
      TokenSigner::Generate();
  int key_requests_ ABSL_GUARDED_BY(mu_) = 0;
};

// The fake on 127.0.0.1:<port 0>, shut down on destruction.
class FakeServer final {
 public:
  explicit FakeServer(FakeBroker& fake) {
    server_ = grpc::ServerBuilder()
                  .AddListeningPort("127.0.0.1:0",
                                    grpc::InsecureServerCredentials(), &port_)
                  .RegisterService(&fake)
                  .BuildAndStart();
    REQUIRE(server_ != nullptr);
  }
  ~FakeServer() { server_->Shutdown(absl::ToChronoTime(absl::Now())); }

  std::unique_ptr<Client> NewClient(const std::string& pinned_key = "") const {
    ClientOptions options =
        OptionsFor(absl::StrCat("127.0.0.1:", port_), "agent-token");
    options.broker_public_key_pem = pinned_key;
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
    INFO(client.status().ToString());
    REQUIRE(client.ok());
    return *std::move(client);
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

absl::StatusOr<Decision> Ask(Client& client) {
  return client.RequireApproval(ExportOf("customers"),
                                absl::Now() + absl::Seconds(30));
}

TEST_CASE("an answer or decision about another action is refused",
          "[client][digest]") {
  FakeBroker fake;
  absl::StatusCode want = absl::StatusCode::kOk;
  std::string says;
  SECTION("the true digest passes") {}
  SECTION("a submission answered with another digest fails DATA_LOSS") {
    fake.lie_in_answer = true;
    want = absl::StatusCode::kDataLoss;
    says = kOtherDigest;
  }
  SECTION("a decision carrying another digest fails DATA_LOSS") {
    fake.lie_in_decision = true;
    want = absl::StatusCode::kDataLoss;
    says = kOtherDigest;
  }
  FakeServer server(fake);
  std::unique_ptr<Client> client = server.NewClient();
  absl::StatusOr<Decision> decision = Ask(*client);
  INFO(decision.status().ToString());
  REQUIRE(decision.status().code() == want);
  if (decision.ok()) {
    CHECK(decision->state == DecisionState::kApproved);
    CHECK(decision->approval_id == kId);
    CHECK(decision->cursor == 7);
    CHECK(decision->rule == "fake-rule");
    CHECK(decision->approvers == std::vector<std::string>{"alice"});
    CHECK_FALSE(decision->approval_token.empty());
  } else {
    CHECK_THAT(std::string(decision.status().message()), Catch::Contains(says));
  }
}

TEST_CASE("an approval without a token that verifies is refused",
          "[client][digest][token]") {
  FakeBroker fake;
  std::string says;
  SECTION("no token at all") {
    fake.token = TokenKind::kMissing;
    says = "carries no approval token";
  }
  SECTION("a garbage token") {
    fake.token = TokenKind::kGarbage;
    says = "does not verify";
  }
  SECTION("a token for another approval") {
    fake.token = TokenKind::kOtherId;
    says = "does not verify";
  }
  SECTION("a token for another action") {
    fake.token = TokenKind::kOtherDigest;
    says = "does not verify";
  }
  FakeServer server(fake);
  std::unique_ptr<Client> client = server.NewClient();
  bool ran = false;
  absl::Status status = client->RunIfApproved(
      ExportOf("customers"), absl::Now() + absl::Seconds(30), [&] {
        ran = true;
        return absl::OkStatus();
      });
  INFO(status.ToString());
  CHECK_FALSE(ran);
  CHECK(status.code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(status.message()), Catch::Contains(kId));
  CHECK_THAT(std::string(status.message()), Catch::Contains(says));
}

TEST_CASE(
    "the signing key is fetched once, and once more after the broker's key "
    "changed",
    "[client][digest][token]") {
  FakeBroker fake;
  FakeServer server(fake);
  std::unique_ptr<Client> client = server.NewClient();
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<Decision> decision = Ask(*client);
    INFO(decision.status().ToString());
    REQUIRE(decision.ok());
  }
  CHECK(fake.key_requests() == 1);

  fake.RotateKey();
  absl::StatusOr<Decision> decision = Ask(*client);
  INFO(decision.status().ToString());
  REQUIRE(decision.ok());
  CHECK(fake.key_requests() == 2);
}

TEST_CASE("a pinned key is never replaced by the broker's",
          "[client][digest][token]") {
  FakeBroker fake;
  FakeServer server(fake);
  std::unique_ptr<Client> client =
      server.NewClient(TokenSigner::Generate()->public_key_pem());
  absl::StatusOr<Decision> decision = Ask(*client);
  INFO(decision.status().ToString());
  CHECK(decision.status().code() == absl::StatusCode::kDataLoss);
  CHECK(fake.key_requests() == 0);
}

}  // namespace
}  // namespace approval::testing
