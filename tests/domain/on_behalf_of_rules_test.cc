// The self-approval rule with on-behalf-of: the actor may be neither the
// requester nor the human the requester acted for. Pure rules, then the
// MemoryStore (the PostgresStore runs the same in
// tests/store/postgres/on_behalf_of_test.cc).
#include <catch2/catch.hpp>

#include "absl/time/clock.h"
#include "server/domain/audit_details.h"
#include "server/domain/refusal_reason.h"
#include "server/domain/review_rules.h"
#include "server/domain/validation.h"
#include "server/store/memory_store.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/test_requests.h"

namespace approval {
namespace {

using Catch::Matchers::Contains;

Approval AgentRequest() {
  Approval a;
  a.id = "0b7d6e52-3f0a-4c8e-9a51-6f1e2d3c4b5a";
  a.requester = "ci-agent";
  a.on_behalf_of = "alice";
  a.state = State::kPending;
  a.created_at = absl::FromUnixSeconds(1000);
  a.expires_at = absl::FromUnixSeconds(2000);
  return a;
}

TEST_CASE("The human behind an agent cannot decide the agent's request",
          "[identity][rules][on_behalf_of]") {
  const Approval a = AgentRequest();
  const absl::Time now = absl::FromUnixSeconds(1500);
  CHECK(IsSelfApproval(a, "ci-agent"));
  CHECK(IsSelfApproval(a, "alice"));
  CHECK_FALSE(IsSelfApproval(a, "bob"));

  absl::Status human = CheckDecision(a, "alice", now);
  CHECK(human.code() == absl::StatusCode::kPermissionDenied);
  CHECK(RefusalReason(human) == "on_behalf_of_self_approval");
  CHECK_THAT(std::string(human.message()),
             Contains("alice is the human behind ci-agent"));

  absl::Status agent = CheckDecision(a, "ci-agent", now);
  CHECK(agent.code() == absl::StatusCode::kPermissionDenied);
  CHECK(RefusalReason(agent) == "self_approval");

  CHECK(CheckDecision(a, "bob", now).ok());
  // Checked first, whatever the state.
  Approval done = a;
  done.state = State::kApproved;
  CHECK(CheckDecision(done, "alice", now).code() ==
        absl::StatusCode::kPermissionDenied);
}

TEST_CASE("Without on_behalf_of nobody but the requester is refused",
          "[identity][rules][on_behalf_of]") {
  Approval a = AgentRequest();
  a.on_behalf_of.clear();
  CHECK_FALSE(IsSelfApproval(a, ""));
  CHECK_FALSE(IsSelfApproval(a, "alice"));
  CHECK(IsSelfApproval(a, "ci-agent"));
}

TEST_CASE("on_behalf_of is part of the request and of its fingerprint",
          "[identity][rules][on_behalf_of]") {
  RequestInput in;
  in.action = "db.export";
  in.resource = "postgres://prod/customers";
  absl::StatusOr<NewApproval> plain = MakeNewApproval(in, "ci-agent", Limits());
  absl::StatusOr<NewApproval> for_alice =
      MakeNewApproval(in, "ci-agent", Limits(), "alice");
  absl::StatusOr<NewApproval> for_bob =
      MakeNewApproval(in, "ci-agent", Limits(), "bob");
  REQUIRE(plain.ok());
  REQUIRE(for_alice.ok());
  REQUIRE(for_bob.ok());
  CHECK(plain->on_behalf_of.empty());
  CHECK(for_alice->on_behalf_of == "alice");
  CHECK(plain->request_fingerprint != for_alice->request_fingerprint);
  CHECK(for_alice->request_fingerprint != for_bob->request_fingerprint);
  // The created event records the human; without one the bytes are as
  // before.
  Approval a = AgentRequest();
  CHECK_THAT(CreatedDetails(a), Contains(R"("on_behalf_of":"alice")"));
  a.on_behalf_of.clear();
  CHECK_THAT(CreatedDetails(a), !Contains("on_behalf_of"));
}

TEST_CASE("MemoryStore keeps on_behalf_of and audits the human's refusal",
          "[identity][store][on_behalf_of]") {
  MemoryStore store([] { return absl::Now(); }, testing::TestSigner());
  RequestInput in;
  in.action = "db.export";
  in.resource = "postgres://prod/customers";
  absl::StatusOr<NewApproval> req =
      MakeNewApproval(in, "ci-agent", Limits(), "alice");
  REQUIRE(req.ok());
  absl::StatusOr<CreateResult> created = store.Create(*req);
  REQUIRE(created.ok());
  CHECK(created->approval.on_behalf_of == "alice");
  CHECK(store.Get(created->approval.id)->on_behalf_of == "alice");

  DecideInput decide{
      created->approval.id, "alice", Verdict::kApprove, "", {}, "", "", {}};
  absl::StatusOr<ApprovalEvent> refused = store.Decide(decide);
  CHECK(refused.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(RefusalReason(refused.status()) == "on_behalf_of_self_approval");
  absl::StatusOr<std::vector<AuditEvent>> audit = store.AuditEvents(0, 10);
  REQUIRE(audit.ok());
  REQUIRE(audit->size() == 2);
  CHECK(audit->at(1).type == EventType::kDecisionRefused);
  CHECK(audit->at(1).actor == "alice");
  CHECK_THAT(audit->at(1).details_json, Contains("human behind"));

  decide.actor = "bob";
  absl::StatusOr<ApprovalEvent> approved = store.Decide(decide);
  REQUIRE(approved.ok());
  CHECK(approved->approval.on_behalf_of == "alice");
  CHECK(approved->approval.state == State::kApproved);
}

}  // namespace
}  // namespace approval
