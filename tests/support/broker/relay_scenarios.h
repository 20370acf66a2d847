// Reviews through relays (chat bots deciding as a linked human) and review
// progress on streams, through the gRPC API with token auth, run over
// MemoryStore (tests/service/relay_test.cc) and PostgresStore
// (tests/service/relay_postgres_test.cc). Each scenario gets a fresh store
// and a broker started with RelayConfig (broker_harness.h).
#ifndef APPROVAL_TESTS_SUPPORT_BROKER_RELAY_SCENARIOS_H_
#define APPROVAL_TESTS_SUPPORT_BROKER_RELAY_SCENARIOS_H_

#include <functional>
#include <string>
#include <vector>

#include "tests/support/broker/scenarios.h"

namespace approval::testing {

std::vector<Scenario> RelayScenarios();

// Registers each of `scenarios` as a Catch2 test case of its own, named
// "<prefix><scenario name>" with `tags`, which calls `run` with it. Call
// during static initialisation (before Catch2 lists or runs tests).
bool RegisterScenarioTests(const std::string& prefix, const std::string& tags,
                           const std::vector<Scenario>& scenarios,
                           std::function<void(const Scenario&)> run);

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_BROKER_RELAY_SCENARIOS_H_
