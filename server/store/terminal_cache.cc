#include "server/store/terminal_cache.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace approval {
namespace {

// Enough shards that a few dozen reader threads rarely share a mutex.
constexpr size_t kMaxShards = 16;

}  // namespace

TerminalCache::TerminalCache(Options options)
    : capacity_(options.capacity), on_lookup_(std::move(options.on_lookup)) {
  // Every shard holds at least one entry, and the shards' bounds add up to
  // exactly capacity_.
  const size_t n = std::min(kMaxShards, capacity_);
  for (size_t i = 0; i < n; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->capacity = capacity_ / n + (i < capacity_ % n ? 1 : 0);
    shards_.push_back(std::move(shard));
  }
}

TerminalCache::Shard* TerminalCache::ShardFor(absl::string_view id) {
  return shards_[absl::Hash<absl::string_view>()(id) % shards_.size()].get();
}

std::shared_ptr<const Approval> TerminalCache::Lookup(absl::string_view id) {
  std::shared_ptr<const Approval> found;
  if (!shards_.empty()) {
    Shard* shard = ShardFor(id);
    absl::MutexLock lock(&shard->mu);
    auto it = shard->by_id.find(id);
    if (it != shard->by_id.end()) {
      shard->lru.splice(shard->lru.begin(), shard->lru, it->second);
      found = *it->second;
    }
  }
  if (on_lookup_) on_lookup_(found != nullptr);
  return found;
}

void TerminalCache::Insert(const Approval& approval) {
  if (shards_.empty() || !IsTerminal(approval.state)) return;
  Insert(std::make_shared<const Approval>(approval));
}

void TerminalCache::Insert(std::shared_ptr<const Approval> approval) {
  if (shards_.empty() || approval == nullptr || !IsTerminal(approval->state) ||
      (approval->state == State::kApproved && approval->evidence.empty())) {
    return;
  }
  Shard* shard = ShardFor(approval->id);
  std::shared_ptr<const Approval> evicted;  // destroyed outside the lock
  absl::MutexLock lock(&shard->mu);
  auto it = shard->by_id.find(approval->id);
  if (it != shard->by_id.end()) {
    *it->second = std::move(approval);
    shard->lru.splice(shard->lru.begin(), shard->lru, it->second);
    return;
  }
  if (shard->lru.size() >= shard->capacity) {
    evicted = std::move(shard->lru.back());
    shard->by_id.erase(evicted->id);
    shard->lru.pop_back();
  }
  const std::string id = approval->id;
  shard->lru.push_front(std::move(approval));
  shard->by_id.emplace(id, shard->lru.begin());
}

size_t TerminalCache::size() const {
  size_t n = 0;
  for (const std::unique_ptr<Shard>& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    n += shard->lru.size();
  }
  return n;
}

}  // namespace approval
