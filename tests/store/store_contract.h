// The ApprovalStore contract (server/store/store.h) as test cases that run
// against any implementation: MemoryStore here, PostgresStore in
// tests/store/postgres. Each case gets a fresh, empty store.
#ifndef APPROVAL_TESTS_STORE_STORE_CONTRACT_H_
#define APPROVAL_TESTS_STORE_STORE_CONTRACT_H_

#include <functional>
#include <string>
#include <vector>

#include "server/store/store.h"

namespace approval {

struct StoreContractCase {
  std::string name;
  std::function<void(ApprovalStore&)> run;
};

std::vector<StoreContractCase> StoreContractCases();

}  // namespace approval

#endif  // APPROVAL_TESTS_STORE_STORE_CONTRACT_H_
