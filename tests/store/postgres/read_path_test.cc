// PostgresStore's read path: Get and List in one statement, with and
// without the terminal-approval cache (terminal_cache.h).
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pqxx/connection"
#include "pqxx/transaction"
#include "server/domain/audit_chain.h"
#include "server/store/postgres/postgres_store.h"
#include "server/store/terminal_cache.h"
#include "tests/store/store_contract.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/store/store_requests.h"

namespace approval::testing {
namespace {

using absl::StatusCode;

std::unique_ptr<PostgresStore> OpenWithCache(const TestDatabase& db,
                                             size_t capacity) {
  PostgresOptions options = db.AppOptions();
  TerminalCache::Options cache;
  cache.capacity = capacity;
  options.terminal_cache = std::make_shared<TerminalCache>(cache);
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(options);
  REQUIRE(store.ok());
  return *std::move(store);
}

// The audit events of approval `id` that make its evidence, as QueryAudit
// (a separate statement) reads them.
std::vector<AuditEvent> EvidenceEvents(ApprovalStore& store,
                                       const std::string& id) {
  AuditQuery q;
  q.approval_id = id;
  absl::StatusOr<std::vector<AuditEvent>> all = store.QueryAudit(q);
  REQUIRE(all.ok());
  std::vector<AuditEvent> out;
  for (const AuditEvent& e : *all) {
    if (e.type == EventType::kCreated || e.type == EventType::kReviewed ||
        e.type == EventType::kApproved) {
      out.push_back(e);
    }
  }
  return out;
}

void CheckSameEvents(const std::vector<AuditEvent>& got,
                     const std::vector<AuditEvent>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(i);
    CHECK(got[i].seq == want[i].seq);
    CHECK(got[i].approval_id == want[i].approval_id);
    CHECK(got[i].type == want[i].type);
    CHECK(got[i].actor == want[i].actor);
    CHECK(got[i].occurred_at == want[i].occurred_at);
    CHECK(got[i].details_json == want[i].details_json);
    CHECK(got[i].prev_hash == want[i].prev_hash);
    CHECK(got[i].hash == want[i].hash);
    CHECK(got[i].key_id == want[i].key_id);
    CHECK(got[i].signature == want[i].signature);
  }
}

TEST_CASE("PostgresStore with a terminal cache satisfies the store contract",
          "[postgres][contract][cache]") {
  for (const StoreContractCase& c : StoreContractCases()) {
    DYNAMIC_SECTION(c.name) {
      TestDatabase db;
      std::unique_ptr<PostgresStore> store = OpenWithCache(db, 100);
      c.run(*store);
    }
  }
}

TEST_CASE("Get returns evidence and reviews byte for byte as the audit log",
          "[postgres][read]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  NewApproval req = MakeRequest("agent-1");
  // Characters JSON has to escape, and non-ASCII, in the hashed details.
  req.justification =
      "quote \" ' backslash \\ tab \t newline \n \xc3\xa9 \xe2\x82\xac";
  req.requirement.approvals_required = 2;
  absl::StatusOr<CreateResult> created = store->Create(req);
  REQUIRE(created.ok());
  const std::string id = created->approval.id;
  REQUIRE(
      store->Decide(Decision(id, "alice", Verdict::kApprove, "a \"b\" \\ c"))
          .ok());
  absl::StatusOr<ApprovalEvent> done = store->Decide(
      Decision(id, "bob", Verdict::kApprove, "\xc3\xa9t\xc3\xa9"));
  REQUIRE(done.ok());
  REQUIRE(done->approval.state == State::kApproved);

  absl::StatusOr<Approval> got = store->Get(id);
  REQUIRE(got.ok());
  CHECK(got->justification == req.justification);
  REQUIRE(got->reviews.size() == 2);
  CHECK(got->reviews[0].reviewer == "alice");
  CHECK(got->reviews[0].comment == "a \"b\" \\ c");
  CHECK(got->reviews[1].reviewer == "bob");
  CHECK(got->reviews[1].comment == "\xc3\xa9t\xc3\xa9");
  CHECK(got->reviews[1].reviewed_at == done->approval.reviews[1].reviewed_at);
  CheckSameEvents(got->evidence, EvidenceEvents(*store, id));
  CheckSameEvents(got->evidence, done->approval.evidence);

  ListQuery all;
  absl::StatusOr<ApprovalPage> page = store->List(all);
  REQUIRE(page.ok());
  REQUIRE(page->approvals.size() == 1);
  CHECK(page->approvals[0].reviews.size() == 2);
  CheckSameEvents(page->approvals[0].evidence, got->evidence);
}

TEST_CASE("A decision is visible to Get on this store and on another at once",
          "[postgres][read][cache]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> a = OpenWithCache(db, 100);
  std::unique_ptr<PostgresStore> b = OpenWithCache(db, 100);
  Approval created = MustCreate(*a, "agent-1");
  // Both stores have read it while pending, more than once.
  for (int i = 0; i < 2; ++i) {
    REQUIRE(a->Get(created.id)->state == State::kPending);
    REQUIRE(b->Get(created.id)->state == State::kPending);
    ListQuery all;
    REQUIRE(a->List(all)->approvals.at(0).state == State::kPending);
    REQUIRE(b->List(all)->approvals.at(0).state == State::kPending);
  }
  CHECK(a->terminal_cache()->size() == 0);
  CHECK(b->terminal_cache()->size() == 0);

  REQUIRE(a->Decide(Decision(created.id, "alice")).ok());

  for (PostgresStore* store : {a.get(), b.get()}) {
    absl::StatusOr<Approval> got = store->Get(created.id);
    REQUIRE(got.ok());
    CHECK(got->state == State::kApproved);
    CHECK(got->evidence.size() == 3);
    ListQuery all;
    CHECK(store->List(all)->approvals.at(0).state == State::kApproved);
  }
}

// Get answers a cached terminal approval without reading the row: changing
// the row behind the store's back shows which one answered.
TEST_CASE("Get serves a terminal approval from the cache",
          "[postgres][read][cache]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> cached = OpenWithCache(db, 100);
  std::unique_ptr<PostgresStore> uncached = OpenWithCache(db, 0);
  Approval a = MustCreate(*cached, "agent-1");
  REQUIRE(cached->Decide(Decision(a.id, "alice", Verdict::kDeny)).ok());
  REQUIRE(cached->Get(a.id).ok());
  REQUIRE(uncached->Get(a.id).ok());
  CHECK(cached->terminal_cache()->size() == 1);
  CHECK(uncached->terminal_cache()->size() == 0);

  ExecSql(db.admin_url(),
          absl::StrCat("UPDATE approvals SET decision_comment = 'changed' "
                       "WHERE id = '",
                       a.id, "'"));
  CHECK(cached->Get(a.id)->decision_comment == "looks fine");
  // Capacity 0 disables the cache: every Get reads the row.
  CHECK(uncached->Get(a.id)->decision_comment == "changed");
}

TEST_CASE("List takes terminal rows from the cache and fills it",
          "[postgres][read][cache]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = OpenWithCache(db, 100);
  Approval pending = MustCreate(*store, "agent-1", "a");
  Approval denied = MustCreate(*store, "agent-1", "b");
  REQUIRE(store->Decide(Decision(denied.id, "alice", Verdict::kDeny)).ok());
  ListQuery all;
  REQUIRE(store->List(all).ok());
  // Only the terminal one was cached.
  CHECK(store->terminal_cache()->size() == 1);
  CHECK(store->terminal_cache()->Lookup(pending.id) == nullptr);
  REQUIRE(store->terminal_cache()->Lookup(denied.id) != nullptr);

  ExecSql(db.admin_url(),
          "UPDATE approvals SET decision_comment = 'changed', "
          "justification = 'changed'");
  absl::StatusOr<ApprovalPage> page = store->List(all);
  REQUIRE(page.ok());
  REQUIRE(page->approvals.size() == 2);
  for (const Approval& a : page->approvals) {
    INFO(a.id);
    // The pending row is read fresh; the terminal one comes from the cache.
    CHECK(a.justification ==
          (a.id == pending.id ? "changed" : denied.justification));
  }
}

TEST_CASE("The store's cache stays within its capacity",
          "[postgres][read][cache]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = OpenWithCache(db, 3);
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    Approval a = MustCreate(*store, "agent-1", absl::StrCat("t", i));
    REQUIRE(store->Cancel(a.id, "agent-1", "not needed").ok());
    REQUIRE(store->Get(a.id).ok());
    CHECK(store->terminal_cache()->size() <= 3);
  }
  CHECK(store->terminal_cache()->size() == 3);
}

TEST_CASE("A corrupt row is DATA_LOSS with the cache on and never cached",
          "[postgres][read][cache][errors]") {
  TestDatabase db;
  // Decided by another broker: this one's cache learns of it only by
  // reading the row.
  std::unique_ptr<PostgresStore> writer = db.OpenAppStore();
  std::unique_ptr<PostgresStore> store = OpenWithCache(db, 100);
  Approval a = MustCreate(*writer, "agent-1");
  REQUIRE(writer->Decide(Decision(a.id, "alice", Verdict::kDeny)).ok());
  {
    pqxx::connection admin(db.admin_url());
    pqxx::work tx(admin);
    tx.exec("ALTER TABLE reviews DROP CONSTRAINT reviews_verdict_check");
    tx.exec("ALTER TABLE reviews DISABLE TRIGGER ALL");
    tx.exec_params(
        "UPDATE reviews SET verdict = 'maybe' WHERE approval_id = $1::uuid",
        a.id);
    tx.commit();
  }
  for (int i = 0; i < 2; ++i) {
    CHECK(store->Get(a.id).status().code() == StatusCode::kDataLoss);
    CHECK(store->List(ListQuery()).status().code() == StatusCode::kDataLoss);
  }
  CHECK(store->terminal_cache()->size() == 0);
}

// Prepared statements live on a connection: the fresh connections that
// replace stale ones after a server restart must have them too.
TEST_CASE("Get and List work on the connections that replace stale ones",
          "[postgres][read][outage]") {
  PgServerControl control;
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = OpenWithCache(db, 100);
  Approval a = MustCreate(*store, "agent-1");
  REQUIRE(store->Get(a.id).ok());
  REQUIRE(store->List(ListQuery()).ok());

  RestartOnExit server(control);
  server.Stop();
  server.Start();
  absl::StatusOr<Approval> got = store->Get(a.id);
  INFO(got.status().ToString());
  REQUIRE(got.ok());
  CHECK(got->state == State::kPending);
  absl::StatusOr<ApprovalPage> page = store->List(ListQuery());
  INFO(page.status().ToString());
  REQUIRE(page.ok());
  CHECK(page->approvals.size() == 1);
}

}  // namespace
}  // namespace approval::testing
