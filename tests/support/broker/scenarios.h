// End-to-end service scenarios through the gRPC API, run against the broker
// over MemoryStore (tests/service/service_test.cc) and over PostgresStore
// (tests/service/broker_postgres_test.cc). Each gets a fresh broker and
// store.
#ifndef APPROVAL_TESTS_SUPPORT_BROKER_SCENARIOS_H_
#define APPROVAL_TESTS_SUPPORT_BROKER_SCENARIOS_H_

#include <functional>
#include <string>
#include <vector>

#include "server/store/store.h"
#include "tests/support/broker/broker_harness.h"

namespace approval::testing {

struct Scenario {
  std::string name;
  std::function<void(BrokerHarness&, ApprovalStore&)> run;
};

std::vector<Scenario> ServiceScenarios();

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_BROKER_SCENARIOS_H_
