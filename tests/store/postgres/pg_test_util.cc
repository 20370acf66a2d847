#include "tests/store/postgres/pg_test_util.h"

#include <catch2/catch.hpp>

#include "absl/status/statusor.h"
#include "pqxx/connection"
#include "pqxx/transaction"
#include "server/domain/rules.h"
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

std::vector<AuditEvent> AllAuditEvents(ApprovalStore& store) {
  absl::StatusOr<std::vector<AuditEvent>> events =
      store.AuditEvents(0, 1000000);
  REQUIRE(events.ok());
  return *events;
}

std::string ExecSql(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  pqxx::result r = tx.exec(sql);
  tx.commit();
  if (r.empty() || r.columns() == 0 || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

}  // namespace approval::testing
