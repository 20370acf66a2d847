#include "tests/support/store/store_requests.h"

#include <catch2/catch.hpp>

#include "absl/status/statusor.h"
#include "server/domain/validation.h"
#include "tests/support/test_requests.h"

namespace approval::testing {

NewApproval MakeRequest(const std::string& requester,
                        const std::string& idempotency_key,
                        const std::string& table, absl::Duration ttl) {
  RequestInput in;
  in.action = "db.export";
  in.resource = "postgres://prod/" + table;
  // Not canonical on purpose: the store must keep the canonical form.
  in.parameters_json = R"({"table": ")" + table + R"(", "rows": 12, "a": [1]})";
  in.justification = "quarterly report";
  in.idempotency_key = idempotency_key;
  in.ttl = ttl;
  absl::StatusOr<NewApproval> req = MakeNewApproval(in, requester, Limits());
  REQUIRE(req.ok());
  return *req;
}

DecideInput Decision(const std::string& id, const std::string& actor,
                     Verdict verdict, const std::string& comment) {
  DecideInput in;
  in.approval_id = id;
  in.actor = actor;
  in.verdict = verdict;
  in.comment = comment;
  return in;
}

Approval MustCreate(ApprovalStore& store, const std::string& requester,
                    const std::string& table) {
  absl::StatusOr<CreateResult> r =
      store.Create(MakeRequest(requester, "", table));
  REQUIRE(r.ok());
  REQUIRE(r->created);
  return r->approval;
}

std::vector<AuditEvent> AllAuditEvents(ApprovalStore& store) {
  absl::StatusOr<std::vector<AuditEvent>> events =
      store.AuditEvents(0, 1000000);
  REQUIRE(events.ok());
  return *events;
}

}  // namespace approval::testing
