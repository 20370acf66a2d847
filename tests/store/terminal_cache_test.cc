// TerminalCache: holds only terminal approvals, stays within its bound,
// evicts the least recently used, and survives concurrent use.
#include "server/store/terminal_cache.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace approval::testing {
namespace {

Approval Terminal(const std::string& id, State state = State::kDenied) {
  Approval a;
  a.id = id;
  a.state = state;
  a.decided_by = "alice";
  if (state == State::kApproved) {
    AuditEvent e;
    e.seq = 1;
    e.approval_id = id;
    a.evidence.push_back(e);
  }
  return a;
}

TerminalCache::Options WithCapacity(size_t capacity) {
  TerminalCache::Options o;
  o.capacity = capacity;
  return o;
}

TEST_CASE("A cached terminal approval is returned as inserted",
          "[terminal_cache]") {
  TerminalCache cache(WithCapacity(10));
  for (State s :
       {State::kApproved, State::kDenied, State::kExpired, State::kCancelled}) {
    const std::string id = absl::StrCat("id-", StateName(s));
    cache.Insert(Terminal(id, s));
    std::shared_ptr<const Approval> got = cache.Lookup(id);
    REQUIRE(got != nullptr);
    CHECK(got->state == s);
    CHECK(got->decided_by == "alice");
  }
  CHECK(cache.Lookup("unknown") == nullptr);
}

TEST_CASE("A pending approval is never cached", "[terminal_cache]") {
  TerminalCache cache(WithCapacity(10));
  Approval pending = Terminal("p");
  pending.state = State::kPending;
  cache.Insert(pending);
  CHECK(cache.Lookup("p") == nullptr);
  CHECK(cache.size() == 0);
}

TEST_CASE("An approved approval without its evidence is not cached",
          "[terminal_cache]") {
  TerminalCache cache(WithCapacity(10));
  Approval approved = Terminal("a", State::kApproved);
  approved.evidence.clear();
  cache.Insert(approved);
  CHECK(cache.Lookup("a") == nullptr);
}

TEST_CASE("Capacity 0 caches nothing", "[terminal_cache]") {
  TerminalCache cache(WithCapacity(0));
  cache.Insert(Terminal("a"));
  CHECK(cache.Lookup("a") == nullptr);
  CHECK(cache.size() == 0);
}

TEST_CASE("The cache never holds more than its capacity", "[terminal_cache]") {
  for (size_t capacity : {1u, 3u, 16u, 17u, 100u}) {
    INFO(capacity);
    TerminalCache cache(WithCapacity(capacity));
    for (int i = 0; i < 1000; ++i) cache.Insert(Terminal(absl::StrCat(i)));
    CHECK(cache.size() <= capacity);
    // Every shard filled up: the whole bound is usable.
    CHECK(cache.size() == capacity);
  }
}

TEST_CASE("The least recently used entry is evicted first",
          "[terminal_cache]") {
  // Capacity 1: one shard of one entry.
  TerminalCache cache(WithCapacity(1));
  cache.Insert(Terminal("a"));
  cache.Insert(Terminal("b"));
  CHECK(cache.Lookup("a") == nullptr);
  CHECK(cache.Lookup("b") != nullptr);
}

TEST_CASE("A lookup keeps an entry from being evicted", "[terminal_cache]") {
  // Capacity 16 is 16 shards of one entry, capacity 32 the same 16 shards of
  // two. An id that evicts "k0" from the first shares its shard.
  std::vector<std::string> same_shard;
  for (int i = 1; same_shard.size() < 2 && i < 100000; ++i) {
    TerminalCache one_each(WithCapacity(16));
    one_each.Insert(Terminal("k0"));
    one_each.Insert(Terminal(absl::StrCat("k", i)));
    if (one_each.Lookup("k0") == nullptr) {
      same_shard.push_back(absl::StrCat("k", i));
    }
  }
  REQUIRE(same_shard.size() == 2);
  TerminalCache cache(WithCapacity(32));
  cache.Insert(Terminal("k0"));
  cache.Insert(Terminal(same_shard[0]));
  REQUIRE(cache.Lookup("k0") != nullptr);  // k0 is now the most recent
  cache.Insert(Terminal(same_shard[1]));
  CHECK(cache.Lookup("k0") != nullptr);
  CHECK(cache.Lookup(same_shard[0]) == nullptr);
  CHECK(cache.Lookup(same_shard[1]) != nullptr);
}

TEST_CASE("on_lookup hears every hit and miss", "[terminal_cache]") {
  std::atomic<int> hits{0};
  std::atomic<int> misses{0};
  TerminalCache::Options o = WithCapacity(10);
  o.on_lookup = [&](bool hit) { ++(hit ? hits : misses); };
  TerminalCache cache(o);
  cache.Insert(Terminal("a"));
  cache.Lookup("a");
  cache.Lookup("a");
  cache.Lookup("b");
  CHECK(hits == 2);
  CHECK(misses == 1);
}

TEST_CASE("Concurrent inserts and lookups keep the bound and lose nothing",
          "[terminal_cache]") {
  TerminalCache cache(WithCapacity(64));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&cache, &wrong, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string id = absl::StrCat(t, "-", i % 50);
        cache.Insert(Terminal(id));
        std::shared_ptr<const Approval> got = cache.Lookup(id);
        if (got != nullptr && got->id != id) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(wrong == 0);
  CHECK(cache.size() <= 64);
}

}  // namespace
}  // namespace approval::testing
