// The shared ApprovalStore contract (tests/store/store_contract.h) against
// PostgresStore, each case on a fresh database.
#include "tests/store/store_contract.h"

#include <catch2/catch.hpp>

#include "server/store/postgres/postgres_store.h"
#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {
namespace {

TEST_CASE("PostgresStore satisfies the store contract",
          "[postgres][contract]") {
  for (const StoreContractCase& c : StoreContractCases()) {
    DYNAMIC_SECTION(c.name) {
      TestDatabase db;
      std::unique_ptr<PostgresStore> store = db.OpenAppStore();
      c.run(*store);
    }
  }
}

}  // namespace
}  // namespace approval::testing
