// Escalation through the gRPC API (policy escalate_after / escalate_to), run
// over MemoryStore (tests/service/escalation_test.cc) and PostgresStore
// (tests/service/escalation_postgres_test.cc). Each scenario gets a fresh
// store and a broker started with EscalationConfig. Durations are short
// (1 s) with bounded waits on the events themselves.
#ifndef APPROVAL_TESTS_SUPPORT_BROKER_ESCALATION_SCENARIOS_H_
#define APPROVAL_TESTS_SUPPORT_BROKER_ESCALATION_SCENARIOS_H_

#include <vector>

#include "server/config/config.h"
#include "tests/support/broker/scenarios.h"
#include "tests/support/certs/test_certs.h"

namespace approval::testing {

// HarnessConfig with a policy (written into `dir`): groups dba = alice and
// security = bob; rule "soon" (soon.*) reviewed by dba, escalating to
// security after 1s; rule "later" (later.*) the same after 1h.
Config EscalationConfig(const TempDir& dir);

std::vector<Scenario> EscalationScenarios();

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_BROKER_ESCALATION_SCENARIOS_H_
