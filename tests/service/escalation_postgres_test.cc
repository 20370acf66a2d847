// Escalation through the gRPC API over PostgresStore: each scenario of
// escalation_scenarios.h is a test case.
#include <catch2/catch.hpp>

#include "tests/support/broker/escalation_scenarios.h"
#include "tests/support/broker/relay_scenarios.h"
#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {
namespace {

const bool kRegistered = RegisterScenarioTests(
    "postgres: ", "[service][escalation][postgres]", EscalationScenarios(),
    [](const Scenario& s) {
      TempDir dir;
      TestDatabase db;
      std::unique_ptr<PostgresStore> store = db.OpenAppStore();
      BrokerHarness h(*store, EscalationConfig(dir));
      s.run(h, *store);
    });

}  // namespace
}  // namespace approval::testing
