// The client trusts no answer about another action: against a fake broker
// that lies about the action digest, RequireApproval refuses with DATA_LOSS.
#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "approval/client.h"
#include "approval/v1/approval.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/domain/canonical.h"
#include "tests/client/client_test_support.h"

namespace approval::testing {
namespace {

constexpr char kId[] = "00000000-0000-4000-8000-000000000001";
constexpr char kOtherDigest[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Answers every request at once, approving it, with the true digest unless
// told to lie in the submission's answer or in the decision.
class FakeBroker final : public v1::ApprovalBroker::Service {
 public:
  bool lie_in_answer = false;
  bool lie_in_decision = false;

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
    {
      absl::MutexLock lock(&mu_);
      a->set_action_digest(lie_in_decision ? kOtherDigest : digest_);
    }
    writer->Write(event);
    return grpc::Status::OK;
  }

 private:
  absl::Mutex mu_;
  std::string digest_ ABSL_GUARDED_BY(mu_);
};

TEST_CASE("an answer or decision about another action is refused",
          "[client][digest]") {
  FakeBroker fake;
  absl::StatusCode want = absl::StatusCode::kOk;
  SECTION("the true digest passes") {}
  SECTION("a submission answered with another digest fails DATA_LOSS") {
    fake.lie_in_answer = true;
    want = absl::StatusCode::kDataLoss;
  }
  SECTION("a decision carrying another digest fails DATA_LOSS") {
    fake.lie_in_decision = true;
    want = absl::StatusCode::kDataLoss;
  }
  int port = 0;
  std::unique_ptr<grpc::Server> server =
      grpc::ServerBuilder()
          .AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                            &port)
          .RegisterService(&fake)
          .BuildAndStart();
  REQUIRE(server != nullptr);

  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(
      OptionsFor(absl::StrCat("127.0.0.1:", port), "agent-token"));
  REQUIRE(client.ok());
  absl::StatusOr<Decision> decision = (*client)->RequireApproval(
      ExportOf("customers"), absl::Now() + absl::Seconds(30));
  INFO(decision.status().ToString());
  REQUIRE(decision.status().code() == want);
  if (decision.ok()) {
    CHECK(decision->state == DecisionState::kApproved);
    CHECK(decision->approval_id == kId);
    CHECK(decision->cursor == 7);
  } else {
    CHECK_THAT(std::string(decision.status().message()),
               Catch::Contains(kOtherDigest));
  }
  server->Shutdown(absl::ToChronoTime(absl::Now()));
}

}  // namespace
}  // namespace approval::testing
