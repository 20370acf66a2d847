// Reviews through relays and review progress on streams, through the gRPC
// API over MemoryStore: each scenario of relay_scenarios.h is a test case.
#include <catch2/catch.hpp>

#include "absl/time/clock.h"
#include "server/store/memory_store.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/broker/relay_scenarios.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/keys/test_keys.h"

namespace approval::testing {
namespace {

const bool kRegistered =
    RegisterScenarioTests("relay: ", "[service][relay][memory]",
                          RelayScenarios(), [](const Scenario& s) {
                            TempDir dir;
                            MemoryStore store(absl::Now, testing::TestSigner());
                            BrokerHarness h(store, RelayConfig(dir));
                            s.run(h, store);
                          });

}  // namespace
}  // namespace approval::testing
