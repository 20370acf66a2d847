// Escalation through the gRPC API over PostgresStore: each scenario of
// escalation_scenarios.h is a test case.
#include <catch2/catch.hpp>

#include "tests/support/broker/escalation_scenarios.h"
#include "tests/support/broker/relay_scenarios.h"
#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {
namespace {

const bool kRegistered = RegisterScenarioTests(
    "escalation: ", "[service][escalation][postgres]", EscalationScenarios(),
    [](const Scenario& s) {
      TempDir dir;
      TestDatabase db;
      std::unique_ptr<PostgresStore> store = db.OpenAppStore();
      BrokerHarness h(*store, EscalationConfig(dir));
      s.run(h, *store);
    });

TEST_CASE("two brokers on one database write one EVENT_ESCALATED",
          "[service][escalation][postgres]") {
  TempDir dir;
  TestDatabase db;
  std::unique_ptr<PostgresStore> store_one = db.OpenAppStore();
  std::unique_ptr<PostgresStore> store_two = db.OpenAppStore();
  BrokerHarness one(*store_one, EscalationConfig(dir));
  BrokerHarness two(*store_two, EscalationConfig(dir));

  // Both brokers' streams see the one event, whichever broker wrote it.
  auto ctx_one = one.Context("watcher");
  auto ctx_two = two.Context("watcher");
  v1::StreamDecisionsRequest all;
  auto stream_one = one.Stub()->StreamDecisions(ctx_one.get(), all);
  auto stream_two = two.Stub()->StreamDecisions(ctx_two.get(), all);
  stream_one->WaitForInitialMetadata();
  stream_two->WaitForInitialMetadata();
  v1::RequestApprovalRequest req = ExportRequest();
  req.set_action("soon.rotate");
  v1::RequestApprovalResponse created;
  REQUIRE(one.Request("agent-1", req, &created).ok());
  const std::string id = created.approval().id();

  v1::DecisionEvent e1, e2;
  do {
    REQUIRE(ReadEvent(*stream_one, &e1));
  } while (e1.type() != v1::EVENT_ESCALATED);
  do {
    REQUIRE(ReadEvent(*stream_two, &e2));
  } while (e2.type() != v1::EVENT_ESCALATED);
  CHECK(e1.cursor() == e2.cursor());
  CHECK(e1.approval().id() == id);

  // Both sweeps kept running while it was pending; then it is decided.
  v1::DecideResponse decided;
  REQUIRE(two.Decide("bob", id, v1::APPROVE, &decided).ok());
  CHECK(decided.approval().state() == v1::APPROVED);
  int escalated = 0;
  absl::StatusOr<std::vector<AuditEvent>> audit =
      store_one->AuditEvents(0, 1000);
  REQUIRE(audit.ok());
  for (const AuditEvent& a : *audit) {
    if (a.type == EventType::kEscalated) ++escalated;
  }
  CHECK(escalated == 1);
  ctx_one->TryCancel();
  ctx_two->TryCancel();
}

}  // namespace
}  // namespace approval::testing
