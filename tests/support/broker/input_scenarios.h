// Hostile input through the gRPC API, run over MemoryStore
// (tests/service/input_service_test.cc) and over PostgresStore
// (tests/service/input_postgres_test.cc): bytes that are not valid
// protobuf, text and numbers that would be stored altered, crafted page
// tokens and time bounds. Each is INVALID_ARGUMENT naming the field, changes
// nothing, carries no database text and never counts as a database error.
#ifndef APPROVAL_TESTS_SUPPORT_BROKER_INPUT_SCENARIOS_H_
#define APPROVAL_TESTS_SUPPORT_BROKER_INPUT_SCENARIOS_H_

#include <vector>

#include "tests/support/broker/scenarios.h"

namespace approval::testing {

std::vector<Scenario> InputScenarios();

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_BROKER_INPUT_SCENARIOS_H_
