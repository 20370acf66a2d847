// Escalation through the gRPC API over MemoryStore: each scenario of
// escalation_scenarios.h is a test case.
#include <catch2/catch.hpp>

#include "absl/time/clock.h"
#include "server/store/memory_store.h"
#include "tests/support/broker/escalation_scenarios.h"
#include "tests/support/broker/relay_scenarios.h"
#include "tests/support/keys/test_keys.h"

namespace approval::testing {
namespace {

const bool kRegistered =
    RegisterScenarioTests("escalation: ", "[service][escalation][memory]",
                          EscalationScenarios(), [](const Scenario& s) {
                            TempDir dir;
                            MemoryStore store(absl::Now, testing::TestSigner());
                            BrokerHarness h(store, EscalationConfig(dir));
                            s.run(h, store);
                          });

}  // namespace
}  // namespace approval::testing
