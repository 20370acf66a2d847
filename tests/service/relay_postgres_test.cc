// Reviews through relays and review progress on streams, through the gRPC
// API over PostgresStore: each scenario of relay_scenarios.h is a test case.
#include <catch2/catch.hpp>

#include "tests/support/broker/broker_harness.h"
#include "tests/support/broker/relay_scenarios.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {
namespace {

const bool kRegistered = RegisterScenarioTests(
    "relay: ", "[service][relay][postgres]", RelayScenarios(),
    [](const Scenario& s) {
      TempDir dir;
      TestDatabase db;
      std::unique_ptr<PostgresStore> store = db.OpenAppStore();
      BrokerHarness h(*store, RelayConfig(dir));
      s.run(h, *store);
    });

}  // namespace
}  // namespace approval::testing
