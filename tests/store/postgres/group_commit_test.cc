// Group commit (postgres_store.h): concurrent writes share transactions, yet
// each is committed exactly once, answered only after its commit, and fails
// alone. Batches are made deterministic with write_batch_wait: the first
// writer waits (bounded) until max_write_batch writers have queued.
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/postgres/postgres_store.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/store/store_requests.h"

namespace approval::testing {
namespace {

// Records what the commit listener is told, one entry per commit.
class CommitLog {
 public:
  void Attach(ApprovalStore& store) {
    store.SetCommitListener([this](const CommittedEvents& c) {
      absl::MutexLock lock(&mu_);
      commits_.push_back(c);
    });
  }
  std::vector<CommittedEvents> commits() {
    absl::MutexLock lock(&mu_);
    return commits_;
  }

 private:
  absl::Mutex mu_;
  std::vector<CommittedEvents> commits_;
};

// A store whose batches hold exactly `batch` writes: the leader waits (up
// to a bound that only keeps a broken store from hanging the suite) until
// that many have queued.
std::unique_ptr<PostgresStore> OpenBatchingStore(
    const TestDatabase& db, int batch,
    std::function<void()> before_commit = nullptr) {
  PostgresOptions options = db.AppOptions();
  options.max_write_batch = batch;
  options.write_batch_wait = absl::Seconds(30);
  options.before_commit_for_test = std::move(before_commit);
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(options);
  REQUIRE(store.ok());
  return *std::move(store);
}

// Runs each of `writes` on its own thread, all at once, and waits for all.
void RunTogether(const std::vector<std::function<void()>>& writes) {
  std::vector<std::thread> threads;
  for (const auto& w : writes) threads.emplace_back(w);
  for (std::thread& t : threads) t.join();
}

int64_t CountRows(const TestDatabase& db, const std::string& sql) {
  return std::stoll(ExecSql(db.admin_url(), sql));
}

void CheckChainIsWhole(ApprovalStore& store) {
  std::vector<AuditEvent> events = AllAuditEvents(store);
  for (size_t i = 0; i < events.size(); ++i) {
    REQUIRE(events[i].seq == static_cast<int64_t>(i) + 1);  // no gaps
  }
  absl::StatusOr<int64_t> verified = VerifyAuditChain(store, TestKeyring());
  REQUIRE(verified.ok());
  CHECK(*verified == static_cast<int64_t>(events.size()));
}

TEST_CASE("Writers queued together commit in one transaction",
          "[postgres][group_commit]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = OpenBatchingStore(db, 4);
  CommitLog log;
  log.Attach(*store);
  std::vector<absl::StatusOr<CreateResult>> results(4);
  std::vector<std::function<void()>> writes;
  for (int i = 0; i < 4; ++i) {
    writes.push_back([&, i] {
      results[i] =
          store->Create(MakeRequest("agent-1", "", absl::StrCat("t", i)));
    });
  }
  RunTogether(writes);

  for (const auto& r : results) REQUIRE(r.ok());
  std::vector<CommittedEvents> commits = log.commits();
  REQUIRE(commits.size() == 1);
  CHECK(commits[0].first_seq == 1);
  CHECK(commits[0].last_seq == 4);
  REQUIRE(commits[0].events.size() == 4);
  std::set<std::string> streamed, answered;
  for (const ApprovalEvent& e : commits[0].events) {
    CHECK(e.type == EventType::kCreated);
    streamed.insert(e.approval.id);
  }
  for (const auto& r : results) answered.insert(r->approval.id);
  CHECK(streamed == answered);
  CheckChainIsWhole(*store);
}

TEST_CASE("A member that fails fails alone and the rest of its batch commits",
          "[postgres][group_commit]") {
  TestDatabase db;
  // A statement of one member fails inside the shared transaction.
  ExecSql(db.admin_url(),
          "CREATE FUNCTION explode() RETURNS trigger LANGUAGE plpgsql AS $$ "
          "BEGIN RAISE EXCEPTION 'boom'; END $$; "
          "CREATE TRIGGER explode BEFORE INSERT ON approvals FOR EACH ROW "
          "WHEN (NEW.resource LIKE '%explode%') EXECUTE FUNCTION explode()");
  std::unique_ptr<PostgresStore> setup = db.OpenAppStore();
  const Approval own = MustCreate(*setup, "alice");
  REQUIRE(setup->Create(MakeRequest("agent-1", "key-1", "first")).ok());

  std::unique_ptr<PostgresStore> store = OpenBatchingStore(db, 4);
  absl::StatusOr<CreateResult> fine, reused, exploded;
  absl::StatusOr<ApprovalEvent> self;
  RunTogether({
      [&] { fine = store->Create(MakeRequest("agent-1", "", "fine")); },
      [&] {
        reused = store->Create(MakeRequest("agent-1", "key-1", "different"));
      },
      [&] { exploded = store->Create(MakeRequest("agent-1", "", "explode")); },
      [&] { self = store->Decide(Decision(own.id, "alice")); },
  });

  REQUIRE(fine.ok());
  CHECK(fine->created);
  CHECK(reused.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(exploded.status().code() == absl::StatusCode::kInternal);
  CHECK(self.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(store->Get(fine->approval.id).ok());
  CHECK(CountRows(db,
                  "SELECT count(*) FROM approvals WHERE resource LIKE "
                  "'%explode%'") == 0);
  // The refusal is audited, and nothing else of the failed members is.
  CHECK(CountRows(db,
                  "SELECT count(*) FROM audit_events WHERE type = "
                  "'decision_refused'") == 1);
  CHECK(CountRows(db, "SELECT count(*) FROM approvals") == 3);
  CheckChainIsWhole(*store);
}

TEST_CASE("Idempotent replays inside one batch create the approval once",
          "[postgres][group_commit]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = OpenBatchingStore(db, 4);
  std::vector<absl::StatusOr<CreateResult>> results(4);
  std::vector<std::function<void()>> writes;
  for (int i = 0; i < 4; ++i) {
    writes.push_back([&, i] {
      results[i] = store->Create(MakeRequest("agent-1", "same-key", "orders"));
    });
  }
  RunTogether(writes);

  int created = 0;
  std::set<std::string> ids;
  for (const auto& r : results) {
    REQUIRE(r.ok());
    created += r->created ? 1 : 0;
    ids.insert(r->approval.id);
  }
  CHECK(created == 1);
  CHECK(ids.size() == 1);
  CHECK(CountRows(db, "SELECT count(*) FROM approvals") == 1);
  CheckChainIsWhole(*store);
}

TEST_CASE("Reviews in one batch see each other: one completes the quorum",
          "[postgres][group_commit]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> setup = db.OpenAppStore();
  const Approval a = MustCreate(*setup, "agent-1");
  std::unique_ptr<PostgresStore> store = OpenBatchingStore(db, 3);
  std::vector<absl::StatusOr<ApprovalEvent>> results(3);
  const std::vector<std::string> reviewers = {"alice", "bob", "carol"};
  std::vector<std::function<void()>> writes;
  for (int i = 0; i < 3; ++i) {
    writes.push_back(
        [&, i] { results[i] = store->Decide(Decision(a.id, reviewers[i])); });
  }
  RunTogether(writes);

  int approved = 0, too_late = 0;
  for (const auto& r : results) {
    if (r.ok() && r->type == EventType::kApproved) ++approved;
    if (r.status().code() == absl::StatusCode::kFailedPrecondition) ++too_late;
  }
  CHECK(approved == 1);
  CHECK(too_late == 2);
  CheckChainIsWhole(*store);
}

TEST_CASE(
    "Concurrent writers on two stores: each acknowledged write exactly "
    "once, one gap-free chain",
    "[postgres][group_commit]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> stores[2] = {db.OpenAppStore(),
                                              db.OpenAppStore()};
  constexpr int kWriters = 8, kEach = 10;
  absl::Mutex mu;
  std::map<std::string, int> acknowledged;  // approval id -> creates
  std::vector<std::string> problems;        // Catch2 asserts on one thread
  std::vector<std::function<void()>> writes;
  for (int w = 0; w < kWriters; ++w) {
    writes.push_back([&, w] {
      ApprovalStore& store = *stores[w % 2];
      ApprovalStore& other = *stores[(w + 1) % 2];
      for (int i = 0; i < kEach; ++i) {
        // Every create is also replayed on the other store, then decided.
        const NewApproval req =
            MakeRequest(absl::StrCat("agent-", w), absl::StrCat("k", i),
                        absl::StrCat("t", w, "-", i));
        absl::StatusOr<CreateResult> first = store.Create(req);
        absl::StatusOr<CreateResult> replay = other.Create(req);
        absl::StatusOr<ApprovalEvent> decided =
            first.ok() ? store.Decide(Decision(first->approval.id, "alice"))
                       : absl::StatusOr<ApprovalEvent>(first.status());
        absl::MutexLock lock(&mu);
        if (!first.ok() || !replay.ok() || !decided.ok()) {
          problems.push_back(absl::StrCat(first.status().ToString(), " / ",
                                          replay.status().ToString(), " / ",
                                          decided.status().ToString()));
          continue;
        }
        if (replay->created || replay->approval.id != first->approval.id) {
          problems.push_back("the replay created a second approval");
        }
        acknowledged[first->approval.id] += first->created ? 1 : 0;
      }
    });
  }
  RunTogether(writes);

  for (const std::string& p : problems) UNSCOPED_INFO(p);
  CHECK(problems.empty());
  REQUIRE(acknowledged.size() == static_cast<size_t>(kWriters * kEach));
  for (const auto& [id, creates] : acknowledged) CHECK(creates == 1);
  CHECK(CountRows(db, "SELECT count(*) FROM approvals") == kWriters * kEach);
  CHECK(CountRows(db,
                  "SELECT count(*) FROM approvals WHERE state = "
                  "'approved'") == kWriters * kEach);
  CHECK(CountRows(db,
                  "SELECT count(*) FROM audit_events WHERE type = "
                  "'created'") == kWriters * kEach);
  CheckChainIsWhole(*stores[0]);
}

TEST_CASE("The database stopping mid-batch fails every member, none applied",
          "[postgres][group_commit][outage]") {
  PgServerControl control;
  TestDatabase db;
  RestartOnExit server(control);
  bool stop_before_commit = true;
  std::unique_ptr<PostgresStore> store = OpenBatchingStore(db, 3, [&] {
    if (stop_before_commit) server.Stop();
    stop_before_commit = false;
  });
  std::vector<absl::StatusOr<CreateResult>> results(3);
  std::vector<std::function<void()>> writes;
  for (int i = 0; i < 3; ++i) {
    writes.push_back([&, i] {
      results[i] =
          store->Create(MakeRequest("agent-1", "", absl::StrCat("lost", i)));
    });
  }
  RunTogether(writes);
  server.Start();

  for (const auto& r : results) {
    INFO(r.status().ToString());
    CHECK(r.status().code() == absl::StatusCode::kUnavailable);
  }
  CHECK(CountRows(db, "SELECT count(*) FROM approvals") == 0);
  CHECK(CountRows(db, "SELECT count(*) FROM audit_events") == 0);
  CHECK(CountRows(db, "SELECT last_seq FROM audit_chain_head") == 0);
}

}  // namespace
}  // namespace approval::testing
