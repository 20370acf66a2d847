// The store contract against MemoryStore.
#include "server/store/memory_store.h"

#include <catch2/catch.hpp>

#include "tests/store/store_contract.h"
#include "tests/support/keys/test_keys.h"

namespace approval {
namespace {

TEST_CASE("MemoryStore satisfies the store contract", "[store][memory]") {
  for (const StoreContractCase& c : StoreContractCases()) {
    DYNAMIC_SECTION(c.name) {
      MemoryStore store(absl::Now, testing::TestSigner());
      c.run(store);
    }
  }
}

TEST_CASE("MemoryStore reports UNAVAILABLE while marked unavailable",
          "[store][memory]") {
  MemoryStore store(absl::Now, testing::TestSigner());
  store.SetUnavailable(true);
  CHECK(store.Ping().code() == absl::StatusCode::kUnavailable);
  CHECK(store.CountPending().status().code() == absl::StatusCode::kUnavailable);
  store.SetUnavailable(false);
  CHECK(store.Ping().ok());
}

}  // namespace
}  // namespace approval
