// EventHub (server/service/event_hub.h): events this process commits reach
// the sinks straight from the store's commit listener, without reading them
// back; commits that arrive past a gap (out of order, or never, as another
// process's would) are filled in by cursor. Either way each sink sees every
// event exactly once, in cursor order. Over MemoryStore.
#include "server/service/event_hub.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/memory_store.h"
#include "tests/support/broker/recording_sink.h"
#include "tests/support/store/forwarding_store.h"
#include "tests/support/store/store_requests.h"

namespace approval::testing {
namespace {

// Long enough that no test here is rescued by the periodic poll.
constexpr absl::Duration kNoPoll = absl::Hours(1);
constexpr absl::Duration kWait = absl::Seconds(30);

TEST_CASE("event hub delivers a local commit without reading it back",
          "[service][hub]") {
  MemoryStore memory;
  CountingStore store(memory);
  EventHub hub(store, kNoPoll, nullptr);
  REQUIRE(hub.Start().ok());
  RecordingSink sink;
  hub.Subscribe(&sink, EventFilter{});
  const int reads_before = store.events_calls();

  Approval a = MustCreate(store, "agent");
  // Delivered on the committing thread, before Create returned.
  CHECK(sink.cursors() == std::vector<int64_t>{1});
  // The review is seq 2 (progress for streams that ask), the approval 3.
  REQUIRE(store.Decide(Decision(a.id, "bob")).ok());
  CHECK(sink.cursors() == std::vector<int64_t>{1, 2, 3});
  CHECK(store.events_calls() == reads_before);
  hub.Stop();
}

TEST_CASE("event hub counts refused decisions as delivered, not as a gap",
          "[service][hub]") {
  MemoryStore memory;
  CountingStore store(memory);
  EventHub hub(store, kNoPoll, nullptr);
  REQUIRE(hub.Start().ok());
  RecordingSink sink;
  hub.Subscribe(&sink, EventFilter{});
  const int reads_before = store.events_calls();

  Approval a = MustCreate(store, "agent");
  // Self-approval: refused, and the refusal is audited (seq 2).
  REQUIRE(store.Decide(Decision(a.id, "agent")).status().code() ==
          absl::StatusCode::kPermissionDenied);
  CHECK(hub.position() == 2);
  MustCreate(store, "agent");
  CHECK(sink.cursors() == std::vector<int64_t>{1, 3});
  CHECK(hub.position() == 3);
  CHECK(store.events_calls() == reads_before);
  hub.Stop();
}

TEST_CASE("event hub delivers commits reported in reverse order in order",
          "[service][hub]") {
  MemoryStore memory;
  HoldingStore store(memory);
  EventHub hub(store, kNoPoll, nullptr);
  REQUIRE(hub.Start().ok());
  RecordingSink sink;
  hub.Subscribe(&sink, EventFilter{});
  for (int i = 0; i < 5; ++i) MustCreate(store, "agent");
  std::vector<CommittedEvents> held = store.TakeHeld();
  REQUIRE(held.size() == 5);
  std::reverse(held.begin(), held.end());
  for (const CommittedEvents& c : held) store.Release(c);
  CHECK(sink.AwaitCount(5) == std::vector<int64_t>{1, 2, 3, 4, 5});
  // Nothing more comes: no duplicate from the reader filling the gap.
  MustCreate(store, "agent");
  for (const CommittedEvents& c : store.TakeHeld()) store.Release(c);
  CHECK(sink.AwaitCount(6) == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  hub.Stop();
}

TEST_CASE("event hub fills commits it never hears of from the store",
          "[service][hub]") {
  MemoryStore memory;
  HoldingStore store(memory);
  EventHub hub(store, kNoPoll, nullptr);
  REQUIRE(hub.Start().ok());
  RecordingSink sink;
  hub.Subscribe(&sink, EventFilter{});
  // Another process's commits: never reported to this hub.
  MustCreate(store, "agent");
  MustCreate(store, "agent");
  store.TakeHeld();
  // A local one after them: past a gap, so the hub reads the gap.
  MustCreate(store, "agent");
  for (const CommittedEvents& c : store.TakeHeld()) store.Release(c);
  CHECK(sink.AwaitCount(3) == std::vector<int64_t>{1, 2, 3});
  hub.Stop();
}

TEST_CASE(
    "event hub delivers every event once, in order, under concurrent "
    "commits reported shuffled or not at all",
    "[service][hub]") {
  MemoryStore memory;
  HoldingStore store(memory);
  EventHub hub(store, kNoPoll, nullptr);
  REQUIRE(hub.Start().ok());
  RecordingSink sink;
  hub.Subscribe(&sink, EventFilter{});
  std::mt19937 rng(14);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) {
      writers.emplace_back([&store, t] {
        for (int i = 0; i < 5; ++i) {
          Approval a = MustCreate(store, "agent");
          if (i % 2 == 0) {
            // Refused (self-approval), then decided: seqs without events.
            (void)store.Decide(Decision(a.id, "agent"));
            (void)store.Decide(
                Decision(a.id, t % 2 == 0 ? "bob" : "carol",
                         t % 2 == 0 ? Verdict::kApprove : Verdict::kDeny));
          }
        }
      });
    }
    for (std::thread& w : writers) w.join();
    std::vector<CommittedEvents> held = store.TakeHeld();
    std::shuffle(held.begin(), held.end(), rng);
    for (size_t i = 0; i < held.size(); ++i) {
      if (i % 7 != 3) store.Release(held[i]);  // the rest: "other replicas"
    }
  }
  // A last local commit, so any gap left at the end is noticed.
  MustCreate(store, "agent");
  for (const CommittedEvents& c : store.TakeHeld()) store.Release(c);
  const std::vector<int64_t> want = AllEventCursors(memory);
  CHECK(sink.AwaitCount(want.size()) == want);
  hub.Stop();
}

TEST_CASE("event hub sends a stopped hub's sinks nothing more",
          "[service][hub]") {
  MemoryStore store;
  RecordingSink sink;
  {
    EventHub hub(store, kNoPoll, nullptr);
    REQUIRE(hub.Start().ok());
    hub.Subscribe(&sink, EventFilter{});
    MustCreate(store, "agent");
  }
  // The hub is gone; the store still has its listener.
  MustCreate(store, "agent");
  CHECK(sink.cursors() == std::vector<int64_t>{1});
}

}  // namespace
}  // namespace approval::testing
