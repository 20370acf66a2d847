// Hostile input through the gRPC service over MemoryStore.
#include <catch2/catch.hpp>

#include "server/store/memory_store.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/broker/input_scenarios.h"
#include "tests/support/keys/test_keys.h"

namespace approval::testing {
namespace {

TEST_CASE("input scenarios over MemoryStore", "[service][memory][input]") {
  for (const Scenario& s : InputScenarios()) {
    DYNAMIC_SECTION(s.name) {
      MemoryStore store(absl::Now, testing::TestSigner());
      BrokerHarness h(store);
      s.run(h, store);
    }
  }
}

}  // namespace
}  // namespace approval::testing
