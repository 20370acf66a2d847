// Requests, decisions and audit reads for tests that drive an ApprovalStore
// directly (the store contract, the PostgresStore tests); failures fail the
// test (Catch REQUIRE).
#ifndef APPROVAL_TESTS_SUPPORT_STORE_STORE_REQUESTS_H_
#define APPROVAL_TESTS_SUPPORT_STORE_STORE_REQUESTS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/domain/approval.h"
#include "server/store/store.h"

namespace approval::testing {

// A valid request from `requester`; `table` varies its content.
NewApproval MakeRequest(const std::string& requester,
                        const std::string& idempotency_key = "",
                        const std::string& table = "customers",
                        absl::Duration ttl = absl::Minutes(10));

DecideInput Decision(const std::string& id, const std::string& actor,
                     Verdict verdict = Verdict::kApprove,
                     const std::string& comment = "looks fine");

// Creates MakeRequest(requester, "", table) in `store`; REQUIREs a new
// approval and returns it.
Approval MustCreate(ApprovalStore& store, const std::string& requester,
                    const std::string& table = "customers");

// Every audit event of `store`; fails the test on error.
std::vector<AuditEvent> AllAuditEvents(ApprovalStore& store);

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_STORE_STORE_REQUESTS_H_
