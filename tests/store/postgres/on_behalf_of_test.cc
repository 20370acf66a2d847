// PostgresStore: on_behalf_of (migration 0002) is stored, read back by every
// query, and the human behind an agent is refused, with the refusal audited
// in the same transaction.
#include <catch2/catch.hpp>

#include "server/domain/refusal_reason.h"
#include "server/domain/validation.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/test_requests.h"

namespace approval::testing {
namespace {

using Catch::Matchers::Contains;

NewApproval AgentRequest(const std::string& human) {
  RequestInput in;
  in.action = "db.export";
  in.resource = "postgres://prod/customers";
  in.idempotency_key = "k-" + human;
  absl::StatusOr<NewApproval> req =
      MakeNewApproval(in, "ci-agent", Limits(), human);
  REQUIRE(req.ok());
  return *std::move(req);
}

TEST_CASE("PostgresStore stores on_behalf_of and refuses the human behind",
          "[identity][postgres][on_behalf_of]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  absl::StatusOr<CreateResult> created = store->Create(AgentRequest("alice"));
  REQUIRE(created.ok());
  const std::string id = created->approval.id;
  CHECK(created->approval.on_behalf_of == "alice");
  CHECK(store->Get(id)->on_behalf_of == "alice");
  absl::StatusOr<ApprovalPage> page = store->List(ListQuery());
  REQUIRE(page.ok());
  REQUIRE(page->approvals.size() == 1);
  CHECK(page->approvals[0].on_behalf_of == "alice");

  // An idempotent retry for the same human returns the original; for
  // another human it is a different request.
  absl::StatusOr<CreateResult> again = store->Create(AgentRequest("alice"));
  REQUIRE(again.ok());
  CHECK_FALSE(again->created);
  NewApproval for_bob = AgentRequest("bob");
  for_bob.idempotency_key = "k-alice";
  CHECK(store->Create(for_bob).status().code() ==
        absl::StatusCode::kAlreadyExists);

  DecideInput decide{id, "alice", Verdict::kApprove, "mine", {}, "", "", {}};
  absl::StatusOr<ApprovalEvent> refused = store->Decide(decide);
  CHECK(refused.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(RefusalReason(refused.status()) == "on_behalf_of_self_approval");
  absl::StatusOr<std::vector<AuditEvent>> audit = store->AuditEvents(0, 10);
  REQUIRE(audit.ok());
  REQUIRE(audit->size() == 2);
  CHECK_THAT(audit->at(0).details_json, Contains(R"("on_behalf_of":"alice")"));
  CHECK(audit->at(1).type == EventType::kDecisionRefused);
  CHECK(audit->at(1).actor == "alice");
  CHECK(VerifyAuditChain(*store, testing::TestKeyring()).ok());

  decide.actor = "bob";
  absl::StatusOr<ApprovalEvent> approved = store->Decide(decide);
  REQUIRE(approved.ok());
  CHECK(approved->approval.on_behalf_of == "alice");
  absl::StatusOr<std::vector<ApprovalEvent>> events =
      store->Events(EventQuery());
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  for (const ApprovalEvent& e : *events) {
    CHECK(e.approval.on_behalf_of == "alice");
  }
}

}  // namespace
}  // namespace approval::testing
