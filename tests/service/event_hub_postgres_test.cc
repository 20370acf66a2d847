// EventHub over PostgresStore: two hubs, each on its own store, share one
// database, as two broker processes do. Each delivers its own commits from
// the commit listener and reads the other's by cursor; each sink still sees
// every event of both exactly once, in cursor order.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "server/service/event_hub.h"
#include "server/store/postgres/postgres_store.h"
#include "tests/support/broker/recording_sink.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/store/store_requests.h"

namespace approval::testing {
namespace {

TEST_CASE(
    "two event hubs on one database each deliver every event once, in "
    "order",
    "[service][postgres][hub]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store_a = db.OpenAppStore();
  std::unique_ptr<PostgresStore> store_b = db.OpenAppStore();
  // No cross-process signal: the other hub's events come from the gap
  // reads and the poll.
  EventHub hub_a(*store_a, absl::Milliseconds(20), nullptr);
  EventHub hub_b(*store_b, absl::Milliseconds(20), nullptr);
  REQUIRE(hub_a.Start().ok());
  REQUIRE(hub_b.Start().ok());
  RecordingSink sink_a;
  RecordingSink sink_b;
  hub_a.Subscribe(&sink_a, EventFilter{});
  hub_b.Subscribe(&sink_b, EventFilter{});

  std::vector<std::thread> writers;
  for (int t = 0; t < 6; ++t) {
    ApprovalStore& store = t % 2 == 0 ? *store_a : *store_b;
    writers.emplace_back([&store, t] {
      for (int i = 0; i < 15; ++i) {
        Approval a = MustCreate(store, "agent");
        if (i % 3 == 0) {
          // Refused (self-approval): a seq without a stream event.
          (void)store.Decide(Decision(a.id, "agent"));
        }
        if (i % 3 != 2) {
          (void)store.Decide(Decision(
              a.id, "bob", t % 2 == 0 ? Verdict::kApprove : Verdict::kDeny));
        }
      }
    });
  }
  for (std::thread& w : writers) w.join();

  const std::vector<int64_t> want = AllEventCursors(*store_a);
  // Creates, and for each decision its review and its outcome.
  REQUIRE(want.size() == 6 * 15 + 6 * 10 * 2);
  CHECK(sink_a.AwaitCount(want.size()) == want);
  CHECK(sink_b.AwaitCount(want.size()) == want);
  hub_a.Stop();
  hub_b.Stop();
}

}  // namespace
}  // namespace approval::testing
