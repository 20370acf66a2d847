// Escalation on PostgreSQL (migration 0007): the rule's escalation is frozen
// on the row, brokers sharing the database write one kEscalated event per
// approval, and an escalation that fell due while no broker ran fires when
// one comes back.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/store/postgres/postgres_store.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/store/store_requests.h"

namespace approval::testing {
namespace {

NewApproval Escalating(const std::string& table, absl::Duration after) {
  NewApproval req = MakeRequest("agent-1", "", table);
  req.requirement.rule = "slow-dba";
  req.requirement.reviewer_groups = {"dba"};
  req.requirement.escalate_after = after;
  req.requirement.escalate_to = {"security", "sre"};
  return req;
}

// Sweeps `stores` from `threads_per_store` threads each until one sweep
// returned an event (bounded: 30 s), then a few rounds more; returns every
// event any sweep returned. No Catch assertions inside the threads.
std::vector<ApprovalEvent> SweepUntilEscalated(
    const std::vector<ApprovalStore*>& stores, int threads_per_store) {
  absl::Mutex mu;
  std::vector<ApprovalEvent> got;
  std::atomic<bool> seen{false};
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  std::vector<std::thread> threads;
  for (ApprovalStore* store : stores) {
    for (int i = 0; i < threads_per_store; ++i) {
      threads.emplace_back([&, store] {
        int after_seen = 0;
        while (after_seen < 5 && absl::Now() < give_up) {
          absl::StatusOr<std::vector<ApprovalEvent>> batch =
              store->EscalateDue(10);
          if (batch.ok() && !batch->empty()) {
            absl::MutexLock lock(&mu);
            got.insert(got.end(), batch->begin(), batch->end());
            seen = true;
          }
          if (seen) {
            ++after_seen;
          } else {
            absl::SleepFor(absl::Milliseconds(20));
          }
        }
      });
    }
  }
  for (std::thread& t : threads) t.join();
  return got;
}

int CountEscalatedEvents(ApprovalStore& store) {
  int n = 0;
  for (const AuditEvent& e : AllAuditEvents(store)) {
    if (e.type == EventType::kEscalated) ++n;
  }
  return n;
}

TEST_CASE("Two stores on one database escalate each approval exactly once",
          "[postgres][escalation][concurrency]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> first = db.OpenAppStore();
  std::unique_ptr<PostgresStore> second = db.OpenAppStore();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<CreateResult> r =
        first->Create(Escalating("t" + std::to_string(i), absl::Seconds(1)));
    REQUIRE(r.ok());
    ids.push_back(r->approval.id);
  }

  const std::vector<ApprovalEvent> events =
      SweepUntilEscalated({first.get(), second.get()}, 4);
  // The sweeps may split the three between them, but none twice.
  std::vector<std::string> escalated;
  for (const ApprovalEvent& e : events) {
    CHECK(e.type == EventType::kEscalated);
    escalated.push_back(e.approval.id);
  }
  std::sort(escalated.begin(), escalated.end());
  std::sort(ids.begin(), ids.end());
  CHECK(escalated == ids);
  CHECK(CountEscalatedEvents(*first) == 3);
  CHECK(first->EscalateDue(10)->empty());
  CHECK(second->EscalateDue(10)->empty());
  CHECK(VerifyAuditChain(*second, TestKeyring()).value() == 6);
}

TEST_CASE("The escalation is frozen on the row and fires after a restart",
          "[postgres][escalation][restart]") {
  TestDatabase db;
  std::string id;
  absl::Time created_at;
  {
    // A broker creates the approval, then goes away before it is due.
    std::unique_ptr<PostgresStore> before = db.OpenAppStore();
    absl::StatusOr<CreateResult> r =
        before->Create(Escalating("restart", absl::Seconds(1)));
    REQUIRE(r.ok());
    id = r->approval.id;
    created_at = r->approval.created_at;
  }
  // A new store (a restarted broker, whatever its policy says now) reads
  // what the row froze at creation.
  std::unique_ptr<PostgresStore> after = db.OpenAppStore();
  absl::StatusOr<Approval> got = after->Get(id);
  REQUIRE(got.ok());
  CHECK(got->requirement.escalate_after == absl::Seconds(1));
  CHECK(got->requirement.escalate_to ==
        std::vector<std::string>{"security", "sre"});
  CHECK_FALSE(got->escalated_at.has_value());

  const std::vector<ApprovalEvent> events =
      SweepUntilEscalated({after.get()}, 1);
  REQUIRE(events.size() == 1);
  CHECK(events[0].approval.id == id);
  REQUIRE(events[0].approval.escalated_at.has_value());
  CHECK(*events[0].approval.escalated_at >= created_at + absl::Seconds(1));

  absl::StatusOr<Approval> escalated = after->Get(id);
  REQUIRE(escalated.ok());
  CHECK(escalated->escalated_at == events[0].approval.escalated_at);
  CHECK(escalated->state == State::kPending);

  // A member of an escalate_to group now decides it.
  DecideInput in = Decision(id, "carol");
  in.actor_groups = {"sre"};
  absl::StatusOr<ApprovalEvent> decided = after->Decide(in);
  REQUIRE(decided.ok());
  CHECK(decided->type == EventType::kApproved);
  CHECK(VerifyAuditChain(*after, TestKeyring()).value() == 4);
}

TEST_CASE("A row whose escalated_at was forged fails audit verification",
          "[postgres][escalation][audit]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  absl::StatusOr<CreateResult> r =
      store->Create(Escalating("forged", absl::Hours(1)));
  REQUIRE(r.ok());
  // Someone with the owner's rights marks it escalated early, so that the
  // escalate_to groups could review it: the chain has no such event.
  db.TamperWithAuditLog(
      "UPDATE approvals SET escalated_at = now() WHERE id = '" +
      r->approval.id + "'");
  absl::StatusOr<AuditReport> report = VerifyAuditLog(*store, TestKeyring());
  REQUIRE(report.ok());
  REQUIRE_FALSE(report->ok());
  CHECK(report->problems[0].find("escalated_at") != std::string::npos);
}

}  // namespace
}  // namespace approval::testing
