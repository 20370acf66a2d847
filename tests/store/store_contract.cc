#include "tests/store/store_contract.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/domain/refusal_reason.h"
#include "server/domain/review_rules.h"
#include "server/domain/validation.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/store/store_requests.h"

namespace approval {
namespace {

using testing::AllAuditEvents;
using testing::Decision;
using testing::MakeRequest;
using testing::MustCreate;

void CreateThenGet(ApprovalStore& store) {
  NewApproval req = MakeRequest("agent-1", "", "customers", absl::Minutes(7));
  absl::StatusOr<CreateResult> r = store.Create(req);
  REQUIRE(r.ok());
  CHECK(r->created);
  const Approval& a = r->approval;
  CHECK(ValidateApprovalId(a.id).ok());
  CHECK(a.state == State::kPending);
  CHECK(a.requester == "agent-1");
  CHECK(a.parameters_preview == req.parameters_preview);
  CHECK(a.action_digest == req.action_digest);
  CHECK(a.expires_at - a.created_at == absl::Minutes(7));
  absl::StatusOr<Approval> got = store.Get(a.id);
  REQUIRE(got.ok());
  CHECK(got->id == a.id);
  CHECK(got->parameters_preview == req.parameters_preview);
  CHECK(got->created_at == a.created_at);
  CHECK(got->expires_at == a.expires_at);
  CHECK(!got->decided_at.has_value());
  CHECK(store.Get(NewUuid()).status().code() == absl::StatusCode::kNotFound);
}

void IdempotentCreate(ApprovalStore& store) {
  absl::StatusOr<CreateResult> first =
      store.Create(MakeRequest("agent-1", "key-1"));
  REQUIRE(first.ok());
  absl::StatusOr<CreateResult> again =
      store.Create(MakeRequest("agent-1", "key-1"));
  REQUIRE(again.ok());
  CHECK_FALSE(again->created);
  CHECK(again->approval.id == first->approval.id);
  absl::StatusOr<CreateResult> different =
      store.Create(MakeRequest("agent-1", "key-1", "orders"));
  CHECK(different.status().code() == absl::StatusCode::kAlreadyExists);
  // The key belongs to its requester: another agent's key is its own.
  absl::StatusOr<CreateResult> other =
      store.Create(MakeRequest("agent-2", "key-1"));
  REQUIRE(other.ok());
  CHECK(other->created);
  CHECK(other->approval.id != first->approval.id);
  ListQuery all;
  all.page_size = 100;
  CHECK(store.List(all)->approvals.size() == 2);
}

void DecideApproveAndDeny(ApprovalStore& store) {
  Approval a = MustCreate(store, "agent-1");
  Approval b = MustCreate(store, "agent-1", "orders");
  absl::StatusOr<ApprovalEvent> approved =
      store.Decide(Decision(a.id, "alice"));
  REQUIRE(approved.ok());
  CHECK(approved->type == EventType::kApproved);
  CHECK(approved->approval.state == State::kApproved);
  CHECK(approved->approval.decided_by == "alice");
  CHECK(approved->approval.decision_comment == "looks fine");
  CHECK(approved->approval.decided_at.has_value());
  absl::StatusOr<ApprovalEvent> denied =
      store.Decide(Decision(b.id, "bob", Verdict::kDeny));
  REQUIRE(denied.ok());
  CHECK(denied->approval.state == State::kDenied);
  CHECK(denied->cursor > approved->cursor);
  CHECK(store.Get(a.id)->state == State::kApproved);
  CHECK(store.Get(b.id)->state == State::kDenied);
}

void SelfApprovalRefusedAndAudited(ApprovalStore& store) {
  Approval a = MustCreate(store, "agent-1");
  absl::StatusOr<ApprovalEvent> r = store.Decide(Decision(a.id, "agent-1"));
  CHECK(r.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(store.Get(a.id)->state == State::kPending);
  std::vector<AuditEvent> audit = AllAuditEvents(store);
  REQUIRE(audit.size() == 2);
  CHECK(audit[1].type == EventType::kDecisionRefused);
  CHECK(audit[1].actor == "agent-1");
  CHECK(audit[1].approval_id == a.id);
  // The refusal is audit-only: no stream event.
  absl::StatusOr<std::vector<ApprovalEvent>> events = store.Events({});
  REQUIRE(events.ok());
  CHECK(events->size() == 1);
}

void TerminalCannotBeDecidedAgain(ApprovalStore& store) {
  Approval a = MustCreate(store, "agent-1");
  REQUIRE(store.Decide(Decision(a.id, "alice")).ok());
  absl::StatusOr<ApprovalEvent> again =
      store.Decide(Decision(a.id, "bob", Verdict::kDeny));
  CHECK(again.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(again.status().message()),
             Catch::Contains("APPROVED"));
  CHECK(store.Decide(Decision(NewUuid(), "alice")).status().code() ==
        absl::StatusCode::kNotFound);
}

void CancelRules(ApprovalStore& store) {
  Approval a = MustCreate(store, "agent-1");
  CHECK(store.Cancel(a.id, "alice", "not yours").status().code() ==
        absl::StatusCode::kPermissionDenied);
  absl::StatusOr<ApprovalEvent> c =
      store.Cancel(a.id, "agent-1", "changed my mind");
  REQUIRE(c.ok());
  CHECK(c->type == EventType::kCancelled);
  CHECK(c->approval.state == State::kCancelled);
  CHECK(c->approval.decision_comment == "changed my mind");
  CHECK(store.Cancel(a.id, "agent-1", "").status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(store.Decide(Decision(a.id, "alice")).status().code() ==
        absl::StatusCode::kFailedPrecondition);
}

void EventsFiltersAndSnapshots(ApprovalStore& store) {
  Approval a = MustCreate(store, "agent-1");
  Approval b = MustCreate(store, "agent-2", "orders");
  REQUIRE(store.Decide(Decision(a.id, "alice")).ok());
  absl::StatusOr<std::vector<ApprovalEvent>> all = store.Events({});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].type == EventType::kCreated);
  CHECK((*all)[0].approval.id == a.id);
  // The created event shows the approval as it was then.
  CHECK((*all)[0].approval.state == State::kPending);
  CHECK((*all)[0].approval.decided_by.empty());
  CHECK((*all)[1].approval.id == b.id);
  CHECK((*all)[2].type == EventType::kApproved);
  CHECK((*all)[2].approval.state == State::kApproved);
  CHECK((*all)[0].cursor < (*all)[1].cursor);
  CHECK((*all)[1].cursor < (*all)[2].cursor);

  EventQuery terminal;
  terminal.approval_ids = {a.id, b.id};
  terminal.terminal_only = true;
  absl::StatusOr<std::vector<ApprovalEvent>> t = store.Events(terminal);
  REQUIRE(t.ok());
  REQUIRE(t->size() == 1);
  CHECK((*t)[0].approval.id == a.id);

  EventQuery mine;
  mine.requester = "agent-2";
  absl::StatusOr<std::vector<ApprovalEvent>> m = store.Events(mine);
  REQUIRE(m.ok());
  REQUIRE(m->size() == 1);
  CHECK((*m)[0].approval.id == b.id);

  EventQuery window;
  window.after_cursor = (*all)[0].cursor;
  window.up_to_cursor = (*all)[1].cursor;
  absl::StatusOr<std::vector<ApprovalEvent>> w = store.Events(window);
  REQUIRE(w.ok());
  REQUIRE(w->size() == 1);
  CHECK((*w)[0].cursor == (*all)[1].cursor);

  CHECK(*store.LatestCursor() == (*all)[2].cursor);
}

void ListPagesNewestFirst(ApprovalStore& store) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(MustCreate(store, "agent-1", absl::StrCat("t", i)).id);
  }
  REQUIRE(store.Decide(Decision(ids[0], "alice")).ok());
  ListQuery q;
  q.page_size = 2;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 10; ++pages) {
    absl::StatusOr<ApprovalPage> page = store.List(q);
    REQUIRE(page.ok());
    CHECK(page->approvals.size() <= 2);
    for (const Approval& a : page->approvals) seen.push_back(a.id);
    if (page->next_page_token.empty()) break;
    q.page_token = page->next_page_token;
  }
  std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  CHECK(seen == newest_first);

  ListQuery pending;
  pending.state = State::kPending;
  CHECK(store.List(pending)->approvals.size() == 4);
  ListQuery other;
  other.requester = "agent-9";
  CHECK(store.List(other)->approvals.empty());
  ListQuery bad;
  bad.page_token = "garbage";
  CHECK(store.List(bad).status().code() == absl::StatusCode::kInvalidArgument);
}

void AuditChainVerifiesAfterEveryKindOfChange(ApprovalStore& store) {
  Approval a = MustCreate(store, "agent-1");
  Approval b = MustCreate(store, "agent-1", "b");
  Approval c = MustCreate(store, "agent-1", "c");
  REQUIRE(store.Decide(Decision(a.id, "alice")).ok());
  REQUIRE(store.Decide(Decision(b.id, "bob", Verdict::kDeny)).ok());
  REQUIRE_FALSE(store.Decide(Decision(c.id, "agent-1")).ok());
  REQUIRE(store.Cancel(c.id, "agent-1", "").ok());
  absl::StatusOr<int64_t> verified =
      VerifyAuditChain(store, testing::TestKeyring());
  REQUIRE(verified.ok());
  // 3 created, 2 x (review + state change), 1 refusal, 1 cancel.
  CHECK(*verified == 9);
  CHECK(*store.LatestCursor() == 9);
}

void ConcurrentDecidersOneWinner(ApprovalStore& store) {
  Approval a = MustCreate(store, "agent-1");
  constexpr int kDeciders = 8;
  std::atomic<int> ok{0}, precondition{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kDeciders; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<ApprovalEvent> r = store.Decide(
          Decision(a.id, absl::StrCat("reviewer-", i),
                   i % 2 == 0 ? Verdict::kApprove : Verdict::kDeny));
      if (r.ok()) {
        ++ok;
      } else if (r.status().code() == absl::StatusCode::kFailedPrecondition) {
        ++precondition;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(ok == 1);
  CHECK(precondition == kDeciders - 1);
  CHECK(other == 0);
  int decisions = 0;
  for (const AuditEvent& e : AllAuditEvents(store)) {
    if (e.type == EventType::kApproved || e.type == EventType::kDenied) {
      ++decisions;
    }
  }
  CHECK(decisions == 1);
}

void ExpiryMovesPendingToExpired(ApprovalStore& store) {
  absl::StatusOr<CreateResult> r =
      store.Create(MakeRequest("agent-1", "", "t", absl::Seconds(1)));
  REQUIRE(r.ok());
  const std::string id = r->approval.id;
  Approval keep = MustCreate(store, "agent-1", "long-lived");
  // Bounded wait on the event itself: ExpireDue returns it once due.
  std::vector<ApprovalEvent> expired;
  absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (expired.empty() && absl::Now() < give_up) {
    absl::StatusOr<std::vector<ApprovalEvent>> batch = store.ExpireDue(10);
    REQUIRE(batch.ok());
    expired = *batch;
    if (expired.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].approval.id == id);
  CHECK(expired[0].type == EventType::kExpired);
  CHECK(expired[0].actor == "system");
  CHECK(store.Get(id)->state == State::kExpired);
  CHECK(store.Get(keep.id)->state == State::kPending);
  CHECK(store.Decide(Decision(id, "alice")).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(*store.CountPending() == 1);
}

NewApproval WithRequirement(Requirement r, const std::string& table = "q") {
  NewApproval req = MakeRequest("agent-1", "", table);
  req.requirement = std::move(r);
  return req;
}

Requirement TwoOfDataAndSecurity(bool deny_ends = true) {
  Requirement r;
  r.rule = "customer-export";
  r.reviewer_groups = {"data-team", "security"};
  r.approvals_required = 2;
  r.deny_ends = deny_ends;
  return r;
}

DecideInput Review(const std::string& id, const std::string& actor,
                   std::vector<std::string> groups,
                   Verdict v = Verdict::kApprove) {
  DecideInput in = Decision(id, actor, v);
  in.actor_groups = std::move(groups);
  return in;
}

std::vector<EventType> AuditTypes(ApprovalStore& store, const std::string& id) {
  std::vector<EventType> out;
  for (const AuditEvent& e : AllAuditEvents(store)) {
    if (e.approval_id == id) out.push_back(e.type);
  }
  return out;
}

// 2 of [data-team, security]; alice sits in both groups.
void QuorumCountsDistinctPeopleOnce(ApprovalStore& store) {
  absl::StatusOr<CreateResult> r =
      store.Create(WithRequirement(TwoOfDataAndSecurity()));
  REQUIRE(r.ok());
  const std::string id = r->approval.id;
  CHECK(r->approval.requirement.approvals_required == 2);
  CHECK(ApprovalsMissing(r->approval) == 2);

  absl::StatusOr<ApprovalEvent> first =
      store.Decide(Review(id, "alice", {"data-team", "security"}));
  REQUIRE(first.ok());
  CHECK(first->type == EventType::kReviewed);
  CHECK(first->approval.state == State::kPending);
  CHECK(ApprovalsMissing(first->approval) == 1);

  // Her second approval, whichever group she speaks for, does not count.
  absl::StatusOr<ApprovalEvent> again =
      store.Decide(Review(id, "alice", {"data-team", "security"}));
  CHECK(again.status().code() == absl::StatusCode::kAlreadyExists);
  // The requester never counts, nor does someone outside the groups.
  CHECK(store.Decide(Review(id, "agent-1", {"data-team"})).status().code() ==
        absl::StatusCode::kPermissionDenied);
  absl::StatusOr<ApprovalEvent> outsider =
      store.Decide(Review(id, "mallory", {"marketing"}));
  CHECK(outsider.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(RefusalReason(outsider.status()) == "not_in_reviewer_groups");
  absl::StatusOr<Approval> still = store.Get(id);
  REQUIRE(still.ok());
  CHECK(still->state == State::kPending);
  REQUIRE(still->reviews.size() == 1);
  CHECK(still->reviews[0].reviewer == "alice");

  absl::StatusOr<ApprovalEvent> second =
      store.Decide(Review(id, "bob", {"security"}));
  REQUIRE(second.ok());
  CHECK(second->type == EventType::kApproved);
  CHECK(second->approval.state == State::kApproved);
  CHECK(second->approval.decided_by == "bob");
  CHECK(ApproversOf(second->approval) ==
        std::vector<std::string>{"alice", "bob"});
  CHECK(AuditTypes(store, id) ==
        std::vector<EventType>{EventType::kCreated, EventType::kReviewed,
                               EventType::kDecisionRefused,
                               EventType::kDecisionRefused,
                               EventType::kDecisionRefused,
                               EventType::kReviewed, EventType::kApproved});
  // Streams see the state changes only, and the approved snapshot carries
  // both reviews.
  EventQuery q;
  q.approval_ids = {id};
  absl::StatusOr<std::vector<ApprovalEvent>> events = store.Events(q);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  CHECK((*events)[0].approval.reviews.empty());
  CHECK((*events)[1].approval.reviews.size() == 2);
  CHECK(store.Get(id)->reviews.size() == 2);
  CHECK(VerifyAuditChain(store, testing::TestKeyring()).ok());
}

void OneDenyEndsUnlessTheRuleSaysOtherwise(ApprovalStore& store) {
  absl::StatusOr<CreateResult> ends =
      store.Create(WithRequirement(TwoOfDataAndSecurity(true), "a"));
  REQUIRE(ends.ok());
  REQUIRE(store.Decide(Review(ends->approval.id, "alice", {"data-team"})).ok());
  absl::StatusOr<ApprovalEvent> denied = store.Decide(
      Review(ends->approval.id, "bob", {"security"}, Verdict::kDeny));
  REQUIRE(denied.ok());
  CHECK(denied->type == EventType::kDenied);
  CHECK(denied->approval.decided_by == "bob");

  absl::StatusOr<CreateResult> carries_on =
      store.Create(WithRequirement(TwoOfDataAndSecurity(false), "b"));
  REQUIRE(carries_on.ok());
  const std::string id = carries_on->approval.id;
  absl::StatusOr<ApprovalEvent> deny =
      store.Decide(Review(id, "bob", {"security"}, Verdict::kDeny));
  REQUIRE(deny.ok());
  CHECK(deny->type == EventType::kReviewed);
  CHECK(deny->approval.state == State::kPending);
  REQUIRE(store.Decide(Review(id, "alice", {"data-team"})).ok());
  absl::StatusOr<ApprovalEvent> approved =
      store.Decide(Review(id, "carol", {"security"}));
  REQUIRE(approved.ok());
  CHECK(approved->approval.state == State::kApproved);
  CHECK(ApproversOf(approved->approval) ==
        std::vector<std::string>{"alice", "carol"});
}

void AutomaticOutcomesAreRecordedWithTheirRule(ApprovalStore& store) {
  Requirement auto_approve;
  auto_approve.rule = "read-only";
  auto_approve.outcome = Outcome::kAutoApprove;
  absl::StatusOr<CreateResult> approved =
      store.Create(WithRequirement(auto_approve, "a"));
  REQUIRE(approved.ok());
  CHECK(approved->approval.state == State::kApproved);
  CHECK(approved->approval.decided_by == kPolicyActor);
  CHECK(approved->approval.decided_at.has_value());

  Requirement deny;
  deny.rule = "no-prod-destroy";
  deny.outcome = Outcome::kAutoDeny;
  absl::StatusOr<CreateResult> denied =
      store.Create(WithRequirement(deny, "b"));
  REQUIRE(denied.ok());
  CHECK(denied->approval.state == State::kDenied);
  CHECK(store.Get(denied->approval.id)->state == State::kDenied);

  std::vector<AuditEvent> audit = AllAuditEvents(store);
  REQUIRE(audit.size() == 4);
  CHECK(audit[1].type == EventType::kApproved);
  CHECK(audit[1].actor == kPolicyActor);
  CHECK_THAT(audit[1].details_json, Catch::Contains(R"("rule":"read-only")"));
  CHECK(audit[3].type == EventType::kDenied);
  CHECK_THAT(audit[3].details_json,
             Catch::Contains(R"("rule":"no-prod-destroy")"));
  // Terminal at once: a follower of the id gets the outcome.
  EventQuery q;
  q.approval_ids = {denied->approval.id};
  q.terminal_only = true;
  absl::StatusOr<std::vector<ApprovalEvent>> events = store.Events(q);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK((*events)[0].type == EventType::kDenied);
}

void AuditQueryFilters(ApprovalStore& store) {
  Approval a = MustCreate(store, "agent-1");
  Approval b = MustCreate(store, "agent-2", "b");
  REQUIRE(store.Decide(Decision(a.id, "alice")).ok());
  REQUIRE_FALSE(store.Decide(Decision(b.id, "agent-2")).ok());

  AuditQuery by_approval;
  by_approval.approval_id = a.id;
  absl::StatusOr<std::vector<AuditEvent>> of_a = store.QueryAudit(by_approval);
  REQUIRE(of_a.ok());
  REQUIRE(of_a->size() == 3);
  for (const AuditEvent& e : *of_a) CHECK(e.approval_id == a.id);

  AuditQuery by_actor;
  by_actor.actor = "agent-2";
  absl::StatusOr<std::vector<AuditEvent>> of_agent2 =
      store.QueryAudit(by_actor);
  REQUIRE(of_agent2.ok());
  REQUIRE(of_agent2->size() == 2);  // its request and its refused decision
  CHECK((*of_agent2)[1].type == EventType::kDecisionRefused);

  AuditQuery paged;
  paged.limit = 2;
  absl::StatusOr<std::vector<AuditEvent>> page1 = store.QueryAudit(paged);
  REQUIRE(page1.ok());
  REQUIRE(page1->size() == 2);
  paged.after_seq = page1->back().seq;
  absl::StatusOr<std::vector<AuditEvent>> page2 = store.QueryAudit(paged);
  REQUIRE(page2.ok());
  REQUIRE(page2->size() == 2);
  CHECK(page2->front().seq == page1->back().seq + 1);

  const std::vector<AuditEvent> all = AllAuditEvents(store);
  AuditQuery window;
  window.from = all[1].occurred_at;
  window.until = all[1].occurred_at + absl::Microseconds(1);
  absl::StatusOr<std::vector<AuditEvent>> in_window = store.QueryAudit(window);
  REQUIRE(in_window.ok());
  REQUIRE_FALSE(in_window->empty());
  for (const AuditEvent& e : *in_window) {
    CHECK(e.occurred_at == all[1].occurred_at);
  }
  AuditQuery before_everything;
  before_everything.until = all[0].occurred_at;
  CHECK(store.QueryAudit(before_everything)->empty());
}

Requirement DbaEscalatingToSecurity(absl::Duration after) {
  Requirement r;
  r.rule = "slow-dba";
  r.reviewer_groups = {"dba"};
  r.escalate_after = after;
  r.escalate_to = {"security"};
  return r;
}

// Calls EscalateDue from `threads` threads at once until one of them got an
// event (or 20 s passed); returns every event they got.
std::vector<ApprovalEvent> EscalateConcurrently(ApprovalStore& store,
                                                int threads) {
  absl::Mutex mu;
  std::vector<ApprovalEvent> got;
  std::atomic<bool> seen{false};
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      // A few more rounds after the first event: a second writer would
      // show up then.
      int after_seen = 0;
      while (after_seen < 3 && absl::Now() < give_up) {
        absl::StatusOr<std::vector<ApprovalEvent>> batch =
            store.EscalateDue(10);
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
  for (std::thread& t : pool) t.join();
  return got;
}

void EscalationFiresOnceAndWidensTheReviewers(ApprovalStore& store) {
  absl::StatusOr<CreateResult> a = store.Create(
      WithRequirement(DbaEscalatingToSecurity(absl::Seconds(1)), "escalates"));
  REQUIRE(a.ok());
  const std::string id = a->approval.id;
  CHECK(a->approval.requirement.escalate_after == absl::Seconds(1));
  CHECK(a->approval.requirement.escalate_to ==
        std::vector<std::string>{"security"});
  CHECK_FALSE(a->approval.escalated_at.has_value());
  // Expires (after 1 s) as it becomes due: never escalates.
  NewApproval short_lived =
      WithRequirement(DbaEscalatingToSecurity(absl::Seconds(1)), "expires");
  short_lived.ttl = absl::Seconds(1);
  absl::StatusOr<CreateResult> b = store.Create(short_lived);
  REQUIRE(b.ok());
  Approval plain = MustCreate(store, "agent-1", "never-escalates");

  // Before escalation a security member is refused, and that is audited.
  absl::StatusOr<ApprovalEvent> early =
      store.Decide(Review(id, "carol", {"security"}));
  CHECK(early.status().code() == absl::StatusCode::kPermissionDenied);

  const std::vector<ApprovalEvent> escalated = EscalateConcurrently(store, 4);
  REQUIRE(escalated.size() == 1);
  const ApprovalEvent& e = escalated[0];
  CHECK(e.type == EventType::kEscalated);
  CHECK(e.actor == "system");
  CHECK(e.approval.id == id);
  CHECK(e.approval.state == State::kPending);
  REQUIRE(e.approval.escalated_at.has_value());
  CHECK(*e.approval.escalated_at >= a->approval.created_at + absl::Seconds(1));
  CHECK(store.EscalateDue(10)->empty());

  absl::StatusOr<Approval> got = store.Get(id);
  REQUIRE(got.ok());
  CHECK(got->escalated_at == e.approval.escalated_at);
  CHECK(got->requirement.escalate_to == std::vector<std::string>{"security"});
  CHECK_FALSE(store.Get(b->approval.id)->escalated_at.has_value());
  CHECK_FALSE(store.Get(plain.id)->escalated_at.has_value());

  // A progress event: with include_reviewed only.
  EventQuery progress;
  progress.approval_ids = {id};
  progress.include_reviewed = true;
  absl::StatusOr<std::vector<ApprovalEvent>> events = store.Events(progress);
  REQUIRE(events.ok());
  std::vector<EventType> types;
  for (const ApprovalEvent& ev : *events) types.push_back(ev.type);
  CHECK(types ==
        std::vector<EventType>{EventType::kCreated, EventType::kEscalated});
  EventQuery state_changes;
  state_changes.approval_ids = {id};
  CHECK(store.Events(state_changes)->size() == 1);  // kCreated

  // Now the security member counts toward the quorum.
  absl::StatusOr<ApprovalEvent> decided =
      store.Decide(Review(id, "carol", {"security"}));
  REQUIRE(decided.ok());
  CHECK(decided->type == EventType::kApproved);
  CHECK(decided->approval.decided_by == "carol");
  CHECK(decided->approval.escalated_at == e.approval.escalated_at);

  CHECK(VerifyAuditChain(store, testing::TestKeyring()).ok());
}

}  // namespace

std::vector<StoreContractCase> StoreContractCases() {
  return {
      {"create then get", CreateThenGet},
      {"idempotent create", IdempotentCreate},
      {"decide approve and deny", DecideApproveAndDeny},
      {"self-approval refused and audited", SelfApprovalRefusedAndAudited},
      {"terminal cannot be decided again", TerminalCannotBeDecidedAgain},
      {"cancel rules", CancelRules},
      {"events filters and snapshots", EventsFiltersAndSnapshots},
      {"list pages newest first", ListPagesNewestFirst},
      {"audit chain verifies", AuditChainVerifiesAfterEveryKindOfChange},
      {"concurrent deciders: one winner", ConcurrentDecidersOneWinner},
      {"expiry moves pending to expired", ExpiryMovesPendingToExpired},
      {"quorum counts distinct people once", QuorumCountsDistinctPeopleOnce},
      {"one deny ends unless the rule says otherwise",
       OneDenyEndsUnlessTheRuleSaysOtherwise},
      {"automatic outcomes are recorded with their rule",
       AutomaticOutcomesAreRecordedWithTheirRule},
      {"audit query filters", AuditQueryFilters},
      {"escalation fires once and widens the reviewers",
       EscalationFiresOnceAndWidensTheReviewers},
  };
}

}  // namespace approval
