// PostgresStore against a real database: behaviour, concurrency, expiry,
// the event stream and error mapping.
#include "server/store/postgres/postgres_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "pqxx/connection"
#include "pqxx/transaction"
#include "server/domain/audit_chain.h"
#include "server/domain/audit_details.h"
#include "server/domain/validation.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/store/store_requests.h"

namespace approval::testing {
namespace {

using absl::StatusCode;

// Runs `fn(i)` on `n` threads that all start at once; returns when all end.
// `fn` must not use Catch assertions: they are not thread-safe.
template <typename Fn>
void RunConcurrently(int n, Fn fn) {
  absl::Notification go;
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&go, &fn, i] {
      go.WaitForNotification();
      fn(i);
    });
  }
  go.Notify();
  for (std::thread& t : threads) t.join();
}

// The same connection parameters as `url`, as key=value pairs.
std::string KeyValueConninfo(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  REQUIRE(options != nullptr);
  std::string out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) {
      absl::StrAppend(&out, out.empty() ? "" : " ", o->keyword, "='", o->val,
                      "'");
    }
  }
  PQconninfoFree(options);
  return out;
}

TEST_CASE("Open fails UNAVAILABLE when the database cannot be reached",
          "[postgres][open]") {
  PostgresOptions options;
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  options.url = "postgresql://postgres@127.0.0.1:1/postgres";
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kUnavailable);
}

TEST_CASE("Open refuses invalid options with INVALID_ARGUMENT",
          "[postgres][open]") {
  PostgresOptions options;
  options.url = TestClusterUrl();
  SECTION("pool_size") {
    options.pool_size = 0;
    CHECK(PostgresStore::Open(options).status().code() ==
          StatusCode::kInvalidArgument);
  }
  SECTION("statement_timeout") {
    options.statement_timeout = absl::ZeroDuration();
    CHECK(PostgresStore::Open(options).status().code() ==
          StatusCode::kInvalidArgument);
  }
  SECTION("unparseable url") {
    options.url = "postgresql://[::1";
    absl::Status s = PostgresStore::Open(options).status();
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(absl::StrContains(s.message(), "url"));
  }
}

TEST_CASE("Open accepts key=value connection strings", "[postgres][open]") {
  TestDatabase db;
  PostgresOptions options = db.AppOptions();
  options.url = KeyValueConninfo(db.app_url());
  INFO(options.url);
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(options);
  REQUIRE(store.ok());
  CHECK((*store)->Ping().ok());
}

TEST_CASE("Create then Get round-trips every field exactly",
          "[postgres][create]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  NewApproval req =
      MakeRequest("agent-1", "key-1", "customers", absl::Seconds(7 * 60 + 1));
  req.justification = "quote ' and backslash \\ and unicode \xc3\xa9";

  absl::StatusOr<CreateResult> created = store->Create(req);
  INFO(created.status().ToString());
  REQUIRE(created.ok());
  CHECK(created->created);
  const Approval& a = created->approval;
  CHECK(ValidateApprovalId(a.id).ok());
  CHECK(a.state == State::kPending);
  CHECK(a.action == req.action);
  CHECK(a.resource == req.resource);
  CHECK(a.parameters_preview == req.parameters_preview);
  CHECK(a.parameters_preview == R"({"a":[1],"rows":12,"table":"customers"})");
  CHECK(a.justification == req.justification);
  CHECK(a.requester == "agent-1");
  CHECK(a.idempotency_key == "key-1");
  CHECK(a.action_digest == req.action_digest);
  CHECK(a.request_fingerprint == req.request_fingerprint);
  CHECK(a.expires_at - a.created_at == req.ttl);
  CHECK_FALSE(a.decided_at.has_value());
  CHECK(a.decided_by.empty());

  absl::StatusOr<Approval> got = store->Get(a.id);
  REQUIRE(got.ok());
  CHECK(got->id == a.id);
  CHECK(got->parameters_preview == a.parameters_preview);
  CHECK(got->justification == a.justification);
  CHECK(got->created_at == a.created_at);
  CHECK(got->expires_at == a.expires_at);
  CHECK(got->request_fingerprint == a.request_fingerprint);

  std::vector<AuditEvent> audit = AllAuditEvents(*store);
  REQUIRE(audit.size() == 1);
  CHECK(audit[0].seq == 1);
  CHECK(audit[0].type == EventType::kCreated);
  CHECK(audit[0].actor == "agent-1");
  CHECK(audit[0].approval_id == a.id);
  CHECK(audit[0].occurred_at == a.created_at);
  CHECK(audit[0].details_json == CreatedDetails(a));
  CHECK(audit[0].prev_hash == GenesisHash());
  CHECK(store->LatestCursor().value() == 1);
  CHECK(store->CountPending().value() == 1);
}

TEST_CASE("Get Decide and Cancel report NOT_FOUND for unknown or malformed ids",
          "[postgres][create]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  for (const std::string& id :
       {NewUuid(), std::string("not-a-uuid"), std::string("'; DROP TABLE x"),
        absl::AsciiStrToUpper(NewUuid())}) {
    INFO(id);
    CHECK(store->Get(id).status().code() == StatusCode::kNotFound);
    CHECK(store->Decide(Decision(id, "reviewer")).status().code() ==
          StatusCode::kNotFound);
    CHECK(store->Cancel(id, "agent", "why").status().code() ==
          StatusCode::kNotFound);
  }
}

TEST_CASE("List pages newest first with a keyset token", "[postgres][list]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  std::vector<Approval> created;
  for (int i = 0; i < 7; ++i) {
    created.push_back(MustCreate(
        *store, i % 2 == 0 ? "agent-even" : "agent-odd", absl::StrCat("t", i)));
  }
  // Newest first by (created_at, id): several may share a created_at.
  std::vector<Approval> expected = created;
  std::sort(expected.begin(), expected.end(),
            [](const Approval& x, const Approval& y) {
              if (x.created_at != y.created_at) {
                return x.created_at > y.created_at;
              }
              return x.id > y.id;
            });

  ListQuery q;
  q.page_size = 3;
  std::vector<std::string> seen;
  std::vector<size_t> page_sizes;
  for (int pages = 0; pages < 10; ++pages) {
    absl::StatusOr<ApprovalPage> page = store->List(q);
    REQUIRE(page.ok());
    page_sizes.push_back(page->approvals.size());
    for (const Approval& a : page->approvals) seen.push_back(a.id);
    if (page->next_page_token.empty()) break;
    q.page_token = page->next_page_token;
  }
  CHECK(page_sizes == std::vector<size_t>{3, 3, 1});
  std::vector<std::string> expected_ids;
  for (const Approval& a : expected) expected_ids.push_back(a.id);
  CHECK(seen == expected_ids);

  SECTION("filters by requester and state") {
    REQUIRE(store->Decide(Decision(created[0].id, "reviewer")).ok());
    ListQuery by_requester;
    by_requester.requester = "agent-odd";
    absl::StatusOr<ApprovalPage> odd = store->List(by_requester);
    REQUIRE(odd.ok());
    CHECK(odd->approvals.size() == 3);
    for (const Approval& a : odd->approvals) CHECK(a.requester == "agent-odd");

    ListQuery approved;
    approved.state = State::kApproved;
    absl::StatusOr<ApprovalPage> page = store->List(approved);
    REQUIRE(page.ok());
    REQUIRE(page->approvals.size() == 1);
    CHECK(page->approvals[0].id == created[0].id);
    CHECK(page->next_page_token.empty());

    ListQuery pending_even;
    pending_even.state = State::kPending;
    pending_even.requester = "agent-even";
    CHECK(store->List(pending_even)->approvals.size() == 3);
  }
  SECTION("clamps page_size to [1, 500]") {
    ListQuery tiny;
    tiny.page_size = 0;
    absl::StatusOr<ApprovalPage> page = store->List(tiny);
    REQUIRE(page.ok());
    CHECK(page->approvals.size() == 1);
    CHECK_FALSE(page->next_page_token.empty());
    ListQuery huge;
    huge.page_size = 100000;
    CHECK(store->List(huge)->approvals.size() == 7);
  }
  SECTION("refuses a malformed page token") {
    for (const std::string& token :
         {std::string("garbage"), std::string("12_not-a-uuid"),
          absl::StrCat("x_", NewUuid()), std::string("_")}) {
      ListQuery bad;
      bad.page_token = token;
      INFO(token);
      CHECK(store->List(bad).status().code() == StatusCode::kInvalidArgument);
    }
  }
}

TEST_CASE("Create with an idempotency key returns the original or refuses",
          "[postgres][create][idempotency]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  NewApproval req = MakeRequest("agent-1", "retry-me");
  absl::StatusOr<CreateResult> first = store->Create(req);
  REQUIRE(first.ok());
  CHECK(first->created);

  absl::StatusOr<CreateResult> again = store->Create(req);
  REQUIRE(again.ok());
  CHECK_FALSE(again->created);
  CHECK(again->approval.id == first->approval.id);
  CHECK(again->approval.created_at == first->approval.created_at);

  absl::StatusOr<CreateResult> different =
      store->Create(MakeRequest("agent-1", "retry-me", "orders"));
  REQUIRE_FALSE(different.ok());
  CHECK(different.status().code() == StatusCode::kAlreadyExists);
  CHECK(absl::StrContains(different.status().message(), "retry-me"));

  // Another requester may use the same key.
  absl::StatusOr<CreateResult> other =
      store->Create(MakeRequest("agent-2", "retry-me"));
  REQUIRE(other.ok());
  CHECK(other->created);
  CHECK(other->approval.id != first->approval.id);

  CHECK(ExecSql(db.admin_url(),
                "SELECT count(*) FROM approvals WHERE requester = 'agent-1'") ==
        "1");
  CHECK(AllAuditEvents(*store).size() == 2);
}

TEST_CASE("Concurrent creates with one idempotency key make one approval",
          "[postgres][create][idempotency][concurrency]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  constexpr int kThreads = 16;
  const NewApproval req = MakeRequest("agent-1", "same-key");
  std::vector<absl::StatusOr<CreateResult>> results(
      kThreads, absl::UnknownError("not run"));
  RunConcurrently(kThreads, [&](int i) { results[i] = store->Create(req); });
  int created = 0;
  std::set<std::string> ids;
  for (const absl::StatusOr<CreateResult>& r : results) {
    REQUIRE(r.ok());
    created += r->created ? 1 : 0;
    ids.insert(r->approval.id);
  }
  CHECK(created == 1);
  CHECK(ids.size() == 1);
  CHECK(ExecSql(db.admin_url(), "SELECT count(*) FROM approvals") == "1");
  CHECK(VerifyAuditChain(*store, testing::TestKeyring()).value() == 1);
}

TEST_CASE("Decide approves or denies and returns the terminal event",
          "[postgres][decide]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  const Verdict verdict = GENERATE(Verdict::kApprove, Verdict::kDeny);
  const State expected =
      verdict == Verdict::kApprove ? State::kApproved : State::kDenied;
  Approval a = MustCreate(*store, "agent-1");

  absl::StatusOr<ApprovalEvent> e =
      store->Decide(Decision(a.id, "alice", verdict, "ok by me"));
  REQUIRE(e.ok());
  CHECK(e->cursor == 3);  // 1 created, 2 reviewed, 3 the state change
  CHECK(e->type == (verdict == Verdict::kApprove ? EventType::kApproved
                                                 : EventType::kDenied));
  CHECK(e->actor == "alice");
  CHECK(e->approval.id == a.id);
  CHECK(e->approval.state == expected);
  CHECK(e->approval.decided_by == "alice");
  CHECK(e->approval.decision_comment == "ok by me");
  REQUIRE(e->approval.decided_at.has_value());
  CHECK(*e->approval.decided_at == e->occurred_at);

  absl::StatusOr<Approval> got = store->Get(a.id);
  REQUIRE(got.ok());
  CHECK(got->state == expected);
  CHECK(got->decided_at == e->approval.decided_at);
  CHECK(got->decided_by == "alice");
  CHECK(got->decision_comment == "ok by me");
  CHECK(store->LatestCursor().value() == 3);
  CHECK(store->CountPending().value() == 0);

  std::vector<AuditEvent> audit = AllAuditEvents(*store);
  REQUIRE(audit.size() == 3);
  CHECK(audit[1].type == EventType::kReviewed);
  CHECK(audit[2].occurred_at == e->occurred_at);
  CHECK(audit[2].details_json == QuorumDetails(e->approval));

  absl::StatusOr<ApprovalEvent> twice = store->Decide(Decision(a.id, "bob"));
  CHECK(twice.status().code() == StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(twice.status().message(),
                          absl::AsciiStrToUpper(StateName(expected))));
  CHECK(VerifyAuditChain(*store, testing::TestKeyring()).value() == 3);
}

TEST_CASE("Self-approval is refused and audited and changes nothing",
          "[postgres][decide]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Approval a = MustCreate(*store, "agent-1");

  absl::StatusOr<ApprovalEvent> e =
      store->Decide(Decision(a.id, "agent-1", Verdict::kApprove));
  REQUIRE_FALSE(e.ok());
  CHECK(e.status().code() == StatusCode::kPermissionDenied);

  std::vector<AuditEvent> audit = AllAuditEvents(*store);
  REQUIRE(audit.size() == 2);
  CHECK(audit[1].type == EventType::kDecisionRefused);
  CHECK(audit[1].actor == "agent-1");
  CHECK(audit[1].approval_id == a.id);
  CHECK(audit[1].details_json ==
        RefusalDetails(e.status().message(), Verdict::kApprove));
  CHECK(store->Get(a.id)->state == State::kPending);
  CHECK(VerifyAuditChain(*store, testing::TestKeyring()).value() == 2);

  // Refusals are audit-only: the stream does not carry them.
  absl::StatusOr<std::vector<ApprovalEvent>> stream =
      store->Events(EventQuery());
  REQUIRE(stream.ok());
  REQUIRE(stream->size() == 1);
  CHECK((*stream)[0].type == EventType::kCreated);
}

TEST_CASE("32 concurrent deciders: exactly one wins",
          "[postgres][decide][concurrency]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Approval a = MustCreate(*store, "agent-1");
  constexpr int kThreads = 32;
  std::vector<absl::StatusOr<ApprovalEvent>> results(
      kThreads, absl::UnknownError("not run"));
  RunConcurrently(kThreads, [&](int i) {
    results[i] = store->Decide(
        Decision(a.id, absl::StrCat("reviewer-", i),
                 i % 2 == 0 ? Verdict::kApprove : Verdict::kDeny));
  });

  int wins = 0;
  std::string winner_state;
  for (const absl::StatusOr<ApprovalEvent>& r : results) {
    if (r.ok()) {
      ++wins;
      winner_state = absl::AsciiStrToUpper(StateName(r->approval.state));
    }
  }
  REQUIRE(wins == 1);
  for (const absl::StatusOr<ApprovalEvent>& r : results) {
    if (r.ok()) continue;
    INFO(r.status().ToString());
    CHECK(r.status().code() == StatusCode::kFailedPrecondition);
    CHECK(absl::StrContains(r.status().message(), winner_state));
  }
  int terminal_events = 0;
  for (const AuditEvent& e : AllAuditEvents(*store)) {
    if (e.type == EventType::kApproved || e.type == EventType::kDenied) {
      ++terminal_events;
    }
  }
  CHECK(terminal_events == 1);
  // created, the winner's review, the state change.
  CHECK(VerifyAuditChain(*store, testing::TestKeyring()).value() == 3);
}

TEST_CASE("16 concurrent creators keep one gapless audit chain",
          "[postgres][audit][concurrency]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  constexpr int kThreads = 16;
  constexpr int kPerThread = 10;
  // Built up front: Catch assertions (MakeRequest has one) are not
  // thread-safe.
  std::vector<std::vector<NewApproval>> requests(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    for (int j = 0; j < kPerThread; ++j) {
      requests[i].push_back(
          MakeRequest(absl::StrCat("agent-", i), "", absl::StrCat("t", j)));
    }
  }
  std::atomic<int> failures{0};
  RunConcurrently(kThreads, [&](int i) {
    for (const NewApproval& req : requests[i]) {
      if (!store->Create(req).ok()) failures.fetch_add(1);
    }
  });
  REQUIRE(failures.load() == 0);
  constexpr int kTotal = kThreads * kPerThread;
  std::vector<AuditEvent> audit = AllAuditEvents(*store);
  REQUIRE(audit.size() == kTotal);
  for (int i = 0; i < kTotal; ++i) CHECK(audit[i].seq == i + 1);
  absl::StatusOr<int64_t> verified =
      VerifyAuditChain(*store, testing::TestKeyring());
  REQUIRE(verified.ok());
  CHECK(*verified == kTotal);
  CHECK(store->LatestCursor().value() == kTotal);
  CHECK(store->CountPending().value() == kTotal);
}

TEST_CASE("Two stores on one database share one chain",
          "[postgres][audit][concurrency]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> first = db.OpenAppStore();
  std::unique_ptr<PostgresStore> second = db.OpenAppStore();
  constexpr int kThreads = 8;
  std::vector<NewApproval> requests;
  for (int i = 0; i < kThreads; ++i) {
    requests.push_back(MakeRequest(absl::StrCat("agent-", i)));
  }
  std::atomic<int> failures{0};
  RunConcurrently(kThreads, [&](int i) {
    ApprovalStore& store = i % 2 == 0 ? *first : *second;
    for (int j = 0; j < 10; ++j) {
      absl::StatusOr<CreateResult> r = store.Create(requests[i]);
      if (!r.ok()) {
        failures.fetch_add(1);
        continue;
      }
      // Decide through the other store.
      ApprovalStore& other = &store == first.get() ? *second : *first;
      if (!other.Decide(Decision(r->approval.id, "reviewer")).ok()) {
        failures.fetch_add(1);
      }
    }
  });
  CHECK(failures.load() == 0);
  // Each of the 80 approvals: created, reviewed, approved.
  CHECK(VerifyAuditChain(*first, testing::TestKeyring()).value() == 240);
}

TEST_CASE("A pending approval expires once its ttl has passed",
          "[postgres][expiry]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Approval keep = MustCreate(*store, "agent-1", "long-lived");
  absl::StatusOr<CreateResult> short_lived = store->Create(
      MakeRequest("agent-1", "", "short-lived", absl::Seconds(1)));
  REQUIRE(short_lived.ok());
  const Approval& a = short_lived->approval;

  // Poll the sweep; the bound only keeps a broken store from hanging.
  std::vector<ApprovalEvent> expired;
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (expired.empty() && absl::Now() < give_up) {
    absl::StatusOr<std::vector<ApprovalEvent>> swept = store->ExpireDue(10);
    REQUIRE(swept.ok());
    expired = *swept;
    if (expired.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  REQUIRE(expired.size() == 1);
  const ApprovalEvent& e = expired[0];
  CHECK(e.type == EventType::kExpired);
  CHECK(e.actor == kSystemActor);
  CHECK(e.approval.id == a.id);
  CHECK(e.approval.state == State::kExpired);
  CHECK(e.approval.decided_by.empty());
  REQUIRE(e.approval.decided_at.has_value());
  CHECK(*e.approval.decided_at >= a.expires_at);

  absl::StatusOr<Approval> got = store->Get(a.id);
  REQUIRE(got.ok());
  CHECK(got->state == State::kExpired);
  CHECK(got->decided_at == e.approval.decided_at);
  CHECK(store->Get(keep.id)->state == State::kPending);

  absl::StatusOr<ApprovalEvent> late = store->Decide(Decision(a.id, "alice"));
  CHECK(late.status().code() == StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(late.status().message(), "EXPIRED"));
  CHECK(store->ExpireDue(10)->empty());

  std::vector<AuditEvent> audit = AllAuditEvents(*store);
  REQUIRE(audit.size() == 3);
  CHECK(audit[2].details_json == ExpiryDetails(a.expires_at));
  CHECK(VerifyAuditChain(*store, testing::TestKeyring()).value() == 3);
  CHECK(store->ExpireDue(0)->empty());
}

TEST_CASE("Cancel works only for the requester and only while pending",
          "[postgres][cancel]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Approval a = MustCreate(*store, "agent-1");

  absl::StatusOr<ApprovalEvent> stranger =
      store->Cancel(a.id, "agent-2", "not mine");
  CHECK(stranger.status().code() == StatusCode::kPermissionDenied);
  CHECK(store->Get(a.id)->state == State::kPending);

  absl::StatusOr<ApprovalEvent> e =
      store->Cancel(a.id, "agent-1", "no longer needed");
  REQUIRE(e.ok());
  CHECK(e->type == EventType::kCancelled);
  CHECK(e->actor == "agent-1");
  CHECK(e->approval.state == State::kCancelled);
  CHECK(e->approval.decided_by == "agent-1");
  CHECK(e->approval.decision_comment == "no longer needed");
  CHECK(store->Get(a.id)->state == State::kCancelled);

  CHECK(store->Cancel(a.id, "agent-1", "again").status().code() ==
        StatusCode::kFailedPrecondition);
  CHECK(store->Decide(Decision(a.id, "alice")).status().code() ==
        StatusCode::kFailedPrecondition);

  std::vector<AuditEvent> audit = AllAuditEvents(*store);
  REQUIRE(audit.size() == 2);
  CHECK(audit[1].details_json == CancelDetails("no longer needed"));
}

TEST_CASE("Events filters by cursor and approval and requester and terminality",
          "[postgres][events]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Approval a = MustCreate(*store, "agent-a");  // 1
  Approval b = MustCreate(*store, "agent-b");  // 2
  REQUIRE(store->Decide(Decision(a.id, "alice", Verdict::kApprove,
                                 "fine"))
              .ok());  // 3 reviewed (not a stream event), 4 approved
  REQUIRE_FALSE(store->Decide(Decision(b.id, "agent-b")).ok());     // 5 refused
  REQUIRE(store->Cancel(b.id, "agent-b", "changed my mind").ok());  // 6

  auto cursors = [&](const EventQuery& q) {
    absl::StatusOr<std::vector<ApprovalEvent>> events = store->Events(q);
    REQUIRE(events.ok());
    std::vector<int64_t> out;
    for (const ApprovalEvent& e : *events) out.push_back(e.cursor);
    return out;
  };

  EventQuery all;
  CHECK(cursors(all) == std::vector<int64_t>{1, 2, 4, 6});

  EventQuery window;
  window.after_cursor = 1;
  window.up_to_cursor = 4;
  CHECK(cursors(window) == std::vector<int64_t>{2, 4});

  EventQuery limited;
  limited.limit = 2;
  CHECK(cursors(limited) == std::vector<int64_t>{1, 2});

  EventQuery terminal;
  terminal.terminal_only = true;
  CHECK(cursors(terminal) == std::vector<int64_t>{4, 6});

  EventQuery by_id;
  by_id.approval_ids = {a.id, "not-a-uuid", "{" + b.id + "}"};
  CHECK(cursors(by_id) == std::vector<int64_t>{1, 4});

  EventQuery only_garbage;
  only_garbage.approval_ids = {"garbage", "x'); DROP TABLE approvals; --"};
  CHECK(cursors(only_garbage).empty());

  EventQuery by_requester;
  by_requester.requester = "agent-b";
  CHECK(cursors(by_requester) == std::vector<int64_t>{2, 6});

  SECTION("a created event shows the approval as it was created") {
    absl::StatusOr<std::vector<ApprovalEvent>> events = store->Events(all);
    REQUIRE(events.ok());
    const ApprovalEvent& created = (*events)[0];
    CHECK(created.type == EventType::kCreated);
    CHECK(created.actor == "agent-a");
    CHECK(created.occurred_at == a.created_at);
    CHECK(created.approval.id == a.id);
    CHECK(created.approval.state == State::kPending);
    CHECK_FALSE(created.approval.decided_at.has_value());
    CHECK(created.approval.decided_by.empty());
    CHECK(created.approval.decision_comment.empty());
    CHECK(created.approval.parameters_preview == a.parameters_preview);

    const ApprovalEvent& approved = (*events)[2];
    CHECK(approved.type == EventType::kApproved);
    CHECK(approved.actor == "alice");
    CHECK(approved.approval.state == State::kApproved);
    CHECK(approved.approval.decided_by == "alice");
    CHECK(approved.approval.decision_comment == "fine");
    CHECK(approved.approval.decided_at == approved.occurred_at);

    const ApprovalEvent& cancelled = (*events)[3];
    CHECK(cancelled.type == EventType::kCancelled);
    CHECK(cancelled.approval.state == State::kCancelled);
    CHECK(cancelled.approval.decision_comment == "changed my mind");
  }
}

TEST_CASE("A statement over statement_timeout fails UNAVAILABLE",
          "[postgres][errors]") {
  TestDatabase db;
  PostgresOptions options = db.AppOptions();
  options.statement_timeout = absl::Milliseconds(200);
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(options);
  REQUIRE(store.ok());
  Approval a = MustCreate(**store, "agent-1");

  // Another session holds the approval's row lock until it rolls back.
  pqxx::connection holder(db.admin_url());
  pqxx::work hold(holder);
  hold.exec_params("SELECT 1 FROM approvals WHERE id = $1::uuid FOR UPDATE",
                   a.id);

  absl::StatusOr<ApprovalEvent> e = (*store)->Decide(Decision(a.id, "alice"));
  REQUIRE_FALSE(e.ok());
  CHECK(e.status().code() == StatusCode::kUnavailable);
  hold.abort();

  // The connection that timed out is still good.
  CHECK((*store)->Decide(Decision(a.id, "alice")).ok());
}

// Someone with the database credentials (or a bad restore) left rows the
// broker cannot read. Every read of such a row is DATA_LOSS, the one code
// for "the stored state is corrupt", never INTERNAL.
TEST_CASE("A row the store cannot read is DATA_LOSS wherever it is read",
          "[postgres][errors]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  Approval bad_state = MustCreate(*store, "agent-1", "a");
  Approval bad_groups = MustCreate(*store, "agent-1", "b");
  Approval bad_review = MustCreate(*store, "agent-1", "c");
  REQUIRE(store->Decide(Decision(bad_review.id, "alice", Verdict::kDeny)).ok());
  {
    pqxx::connection admin(db.admin_url());
    pqxx::work tx(admin);
    tx.exec("ALTER TABLE approvals DROP CONSTRAINT approvals_state_check");
    tx.exec("ALTER TABLE reviews DROP CONSTRAINT reviews_verdict_check");
    tx.exec("ALTER TABLE reviews DISABLE TRIGGER ALL");
    tx.exec_params(
        "UPDATE approvals SET state = 'bogus', decided_at = now() WHERE id = "
        "$1::uuid",
        bad_state.id);
    tx.exec_params(
        "UPDATE approvals SET reviewer_groups = '{}' WHERE id = $1::uuid",
        bad_groups.id);
    tx.exec_params(
        "UPDATE reviews SET verdict = 'maybe' WHERE approval_id = $1::uuid",
        bad_review.id);
    tx.commit();
  }
  for (const Approval& a : {bad_state, bad_groups, bad_review}) {
    INFO(a.resource);
    absl::StatusOr<Approval> got = store->Get(a.id);
    CHECK(got.status().code() == StatusCode::kDataLoss);
  }
  ListQuery all;
  CHECK(store->List(all).status().code() == StatusCode::kDataLoss);
  CHECK(store->Decide(Decision(bad_state.id, "alice")).status().code() ==
        StatusCode::kDataLoss);
}

}  // namespace
}  // namespace approval::testing
