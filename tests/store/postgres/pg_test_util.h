// Helpers shared by the PostgreSQL tests.
#ifndef APPROVAL_TESTS_STORE_POSTGRES_PG_TEST_UTIL_H_
#define APPROVAL_TESTS_STORE_POSTGRES_PG_TEST_UTIL_H_

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

// Every audit event of `store`; fails the test on error.
std::vector<AuditEvent> AllAuditEvents(ApprovalStore& store);

// Runs `sql` on a new connection to `url` in one transaction and returns the
// first column of the first row as text ("" without rows). Throws what
// libpqxx throws.
std::string ExecSql(const std::string& url, const std::string& sql);

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_STORE_POSTGRES_PG_TEST_UTIL_H_
