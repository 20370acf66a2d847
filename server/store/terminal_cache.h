// TerminalCache: a bounded, thread-safe cache of terminal approvals.
//
// An approval in a terminal state (approved, denied, expired, cancelled)
// never changes again, so a copy read once may answer every later read of
// it. Pending approvals are never cached: Insert ignores them, and Lookup
// can therefore only ever return a terminal approval. Whoever learns a
// terminal approval (a store read, a committed write, an event read back)
// may Insert it; a reader that gets nullptr must read the store.
//
// Bounded to `capacity` entries, least recently used out first (the bound
// is split over independent shards, each with its own mutex, so concurrent
// readers of different ids rarely meet). Capacity 0 caches nothing.
// Thread-safe.
#ifndef APPROVAL_SERVER_STORE_TERMINAL_CACHE_H_
#define APPROVAL_SERVER_STORE_TERMINAL_CACHE_H_

#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/domain/approval.h"

namespace approval {

class TerminalCache final {
 public:
  struct Options {
    // Most approvals held at once; 0 disables the cache. Default 10000.
    size_t capacity = 10000;
    // Called once per Lookup with whether it hit (e.g. to count it in
    // metrics); may be empty. Must be thread-safe and must not call back
    // into the cache.
    std::function<void(bool hit)> on_lookup;
  };

  explicit TerminalCache(Options options);
  TerminalCache(const TerminalCache&) = delete;
  TerminalCache& operator=(const TerminalCache&) = delete;

  // The cached approval `id`, or nullptr. A hit counts as a use for the LRU
  // order.
  std::shared_ptr<const Approval> Lookup(absl::string_view id);

  // Caches `approval` if it is terminal, replacing an older copy; evicts the
  // least recently used entry of its shard when full. Ignores pending
  // approvals, and approved ones without their evidence (approval.h: every
  // approved Approval a store returns carries it).
  void Insert(const Approval& approval);
  void Insert(std::shared_ptr<const Approval> approval);

  size_t capacity() const { return capacity_; }
  // Entries held now (sums the shards; for tests and diagnostics).
  size_t size() const;

 private:
  struct Shard {
    size_t capacity = 0;
    mutable absl::Mutex mu;
    // Most recently used first.
    std::list<std::shared_ptr<const Approval>> lru ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string,
                        std::list<std::shared_ptr<const Approval>>::iterator>
        by_id ABSL_GUARDED_BY(mu);
  };

  Shard* ShardFor(absl::string_view id);

  const size_t capacity_;
  const std::function<void(bool)> on_lookup_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_STORE_TERMINAL_CACHE_H_
