// Opening many StreamDecisions calls at once (a reconnect storm): the
// catch-up reads of streams that follow ids are batched
// (server/service/catch_up_batcher.h), so the store answers far fewer
// queries than there are streams, and each stream still gets exactly the
// events of its own approvals. Over MemoryStore behind a counting wrapper.
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "server/service/catch_up_batcher.h"
#include "server/service/executor.h"
#include "server/store/memory_store.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/store/forwarding_store.h"
#include "tests/support/store/store_requests.h"

namespace approval::testing {
namespace {

constexpr int kStreams = 200;

struct OpenStream {
  std::string id;
  bool decided_before = false;
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReader<v1::DecisionEvent>> reader;
};

// Reads the one event `s` is owed, then its end: OK after exactly that.
void ExpectOnlyItsOutcome(OpenStream& s, v1::State want) {
  v1::DecisionEvent event;
  REQUIRE(s.reader->Read(&event));
  CHECK(event.approval().id() == s.id);
  CHECK(event.approval().state() == want);
  CHECK_FALSE(s.reader->Read(&event));
  CHECK(s.reader->Finish().ok());
}

TEST_CASE(
    "streams opened at once share their catch-up reads and each gets only "
    "its own outcome",
    "[service][streams]") {
  MemoryStore memory(absl::Now, TestSigner());
  CountingStore store(memory);
  BrokerHarness h(store);
  std::vector<OpenStream> streams(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    streams[i].id = MustCreate(memory, "agent-1").id;
    if (i % 2 == 0) {
      REQUIRE(memory.Decide(Decision(streams[i].id, "bob")).ok());
      streams[i].decided_before = true;
    }
  }

  // The first catch-up query stalls, as a busy database would, while every
  // other stream opens.
  store.SetEventsGate(false);
  const int reads_before = store.events_calls();
  std::unique_ptr<v1::ApprovalBroker::Stub> stub = h.Stub();
  for (OpenStream& s : streams) {
    s.ctx = h.Context("agent-1");
    v1::StreamDecisionsRequest req;
    req.add_approval_ids(s.id);
    s.reader = stub->StreamDecisions(s.ctx.get(), req);
  }
  for (OpenStream& s : streams) s.reader->WaitForInitialMetadata();
  store.SetEventsGate(true);

  for (OpenStream& s : streams) {
    if (s.decided_before) {
      ExpectOnlyItsOutcome(s, v1::APPROVED);
    }
  }
  // Far fewer than one query per stream (one per batch).
  CHECK(store.events_calls() - reads_before < kStreams / 10);

  for (OpenStream& s : streams) {
    if (!s.decided_before) {
      REQUIRE(memory.Decide(Decision(s.id, "bob", Verdict::kDeny)).ok());
      ExpectOnlyItsOutcome(s, v1::DENIED);
    }
  }
}

TEST_CASE(
    "a batched catch-up gives each request only its ids, requester and "
    "cursor range",
    "[service][streams]") {
  MemoryStore memory(absl::Now, TestSigner());
  CountingStore store(memory);
  Executor executor(2);
  CatchUpBatcher batcher(store, executor);
  // a1: agent-1's, denied; a2: agent-2's, approved; a3: pending.
  Approval a1 = MustCreate(memory, "agent-1");
  Approval a2 = MustCreate(memory, "agent-2");
  Approval a3 = MustCreate(memory, "agent-1");
  absl::StatusOr<ApprovalEvent> d1 =
      memory.Decide(Decision(a1.id, "bob", Verdict::kDeny));
  absl::StatusOr<ApprovalEvent> d2 = memory.Decide(Decision(a2.id, "bob"));
  REQUIRE(d1.ok());
  REQUIRE(d2.ok());
  const int64_t head = d2->cursor;

  struct Answer {
    absl::Mutex mu;
    int pending = 4;
    bool failed = false;
    std::vector<std::vector<std::string>> ids{4};
  } answer;
  auto request = [&](int slot, std::vector<std::string> ids,
                     std::optional<std::string> requester, int64_t after) {
    CatchUpBatcher::Request r;
    r.approval_ids = std::move(ids);
    r.requester = std::move(requester);
    r.after_cursor = after;
    r.up_to_cursor = head;
    batcher.Submit(
        std::move(r),
        [&answer, slot](absl::StatusOr<std::vector<ApprovalEvent>> e) {
          absl::MutexLock lock(&answer.mu);
          if (!e.ok()) answer.failed = true;
          for (const ApprovalEvent& x :
               e.value_or(std::vector<ApprovalEvent>())) {
            answer.ids[slot].push_back(x.approval.id);
          }
          --answer.pending;
        });
  };
  store.SetEventsGate(false);  // all four queue behind the first query
  request(0, {a1.id, a2.id, a3.id}, "agent-1", 0);       // not agent-2's a2
  request(1, {a1.id, a2.id}, std::nullopt, 0);           // an observer: both
  request(2, {a1.id, a2.id}, std::nullopt, d1->cursor);  // a2 only
  request(3, {a3.id}, "agent-1", 0);                     // nothing decided
  store.SetEventsGate(true);
  {
    absl::MutexLock lock(&answer.mu);
    REQUIRE(answer.mu.AwaitWithTimeout(
        absl::Condition(
            +[](Answer* a)
                 ABSL_NO_THREAD_SAFETY_ANALYSIS { return a->pending == 0; },
            &answer),
        absl::Seconds(30)));
    REQUIRE_FALSE(answer.failed);
    CHECK(answer.ids[0] == std::vector<std::string>{a1.id});
    CHECK(answer.ids[1] == std::vector<std::string>{a1.id, a2.id});
    CHECK(answer.ids[2] == std::vector<std::string>{a2.id});
    CHECK(answer.ids[3].empty());
  }
  CHECK(store.events_calls() <= 2);
  executor.Stop();
}

}  // namespace
}  // namespace approval::testing
