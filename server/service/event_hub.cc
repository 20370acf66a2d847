#include "server/service/event_hub.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "server/service/log.h"
#include "server/service/metrics.h"

namespace approval {
namespace {
constexpr int kReadBatch = 500;
// Commits held past a gap at most; beyond that the reader reads them.
constexpr size_t kMaxHeldCommits = 4096;
}  // namespace

EventHub::EventHub(ApprovalStore& store, absl::Duration poll_interval,
                   BrokerMetrics* metrics, CrossProcessSignal* signal)
    : store_(store),
      poll_interval_(poll_interval),
      metrics_(metrics),
      signal_(signal) {}

EventHub::~EventHub() { Stop(); }

absl::Status EventHub::Start() {
  {
    absl::MutexLock lock(&listener_target_->mu);
    listener_target_->hub = this;
  }
  // Listening before reading the cursor: a commit after the read reaches the
  // hub (held until the position is set below, or read by the reader).
  store_.SetCommitListener(
      [target = listener_target_](const CommittedEvents& c) {
        absl::ReaderMutexLock lock(&target->mu);
        if (target->hub != nullptr) target->hub->OnCommitted(c);
      });
  absl::StatusOr<int64_t> latest = store_.LatestCursor();
  if (!latest.ok()) {
    absl::MutexLock lock(&listener_target_->mu);
    listener_target_->hub = nullptr;
    return latest.status();
  }
  {
    absl::MutexLock lock(&mu_);
    position_ = std::max(position_, *latest);
    started_ = true;
    ApplyHeld();
  }
  if (signal_ != nullptr) signal_->Subscribe([this] { Wake(); });
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void EventHub::Stop() {
  {
    // Waits for a listener call in progress.
    absl::MutexLock lock(&listener_target_->mu);
    listener_target_->hub = nullptr;
  }
  if (signal_ != nullptr) signal_->Subscribe(nullptr);
  {
    absl::MutexLock lock(&wake_mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void EventHub::OnCommitted(const CommittedEvents& c) {
  std::vector<EventPtr> events;
  events.reserve(c.events.size());
  for (const ApprovalEvent& e : c.events) {
    events.push_back(std::make_shared<const ApprovalEvent>(e));
  }
  bool gap = false;
  {
    absl::MutexLock lock(&mu_);
    if (c.last_seq <= position_) {
      // The reader got there first.
    } else if (started_ && c.first_seq <= position_ + 1) {
      Advance(events, c.last_seq);
      ApplyHeld();
    } else {
      held_[c.first_seq] = HeldCommit{c.last_seq, std::move(events)};
      // The farthest commit is the one the reader reaches last anyway.
      if (held_.size() > kMaxHeldCommits) held_.erase(std::prev(held_.end()));
      gap = true;
    }
  }
  if (gap) Wake();
  // Other processes read this commit from the database.
  if (signal_ != nullptr) signal_->Publish();
}

void EventHub::Advance(const std::vector<EventPtr>& events, int64_t last_seq) {
  for (const EventPtr& e : events) {
    if (e->cursor > position_) Deliver(e);
  }
  position_ = std::max(position_, last_seq);
}

void EventHub::ApplyHeld() {
  while (!held_.empty() && held_.begin()->first <= position_ + 1) {
    HeldCommit next = std::move(held_.begin()->second);
    held_.erase(held_.begin());
    if (next.last_seq > position_) Advance(next.events, next.last_seq);
  }
}

void EventHub::Wake() {
  absl::MutexLock lock(&wake_mu_);
  wake_ = true;
}

int64_t EventHub::Subscribe(EventSink* sink, EventFilter filter) {
  absl::MutexLock lock(&mu_);
  if (filter.approval_ids.empty()) {
    all_.insert(sink);
  } else {
    for (const std::string& id : filter.approval_ids) by_id_[id].insert(sink);
  }
  sinks_[sink] = std::move(filter);
  return position_;
}

void EventHub::Unsubscribe(EventSink* sink) {
  absl::MutexLock lock(&mu_);
  auto it = sinks_.find(sink);
  if (it == sinks_.end()) return;
  for (const std::string& id : it->second.approval_ids) {
    auto set = by_id_.find(id);
    if (set == by_id_.end()) continue;
    set->second.erase(sink);
    if (set->second.empty()) by_id_.erase(set);
  }
  all_.erase(sink);
  sinks_.erase(it);
}

int64_t EventHub::position() const {
  absl::MutexLock lock(&mu_);
  return position_;
}

void EventHub::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&wake_mu_);
      wake_mu_.AwaitWithTimeout(
          absl::Condition(
              +[](EventHub* h) ABSL_EXCLUSIVE_LOCKS_REQUIRED(h->wake_mu_) {
                return h->wake_ || h->stopping_;
              },
              this),
          poll_interval_);
      if (stopping_) return;
      wake_ = false;
    }
    ReadAvailable();
  }
}

void EventHub::ReadAvailable() {
  for (;;) {
    const int64_t from = position();
    // The cursor first: every seq up to it is committed, so the events read
    // next cover (from, latest] whole, refusals and reviews included.
    absl::StatusOr<int64_t> latest = store_.LatestCursor();
    absl::StatusOr<std::vector<ApprovalEvent>> events;
    if (latest.ok()) {
      if (*latest <= from) return;
      EventQuery q;
      q.after_cursor = from;
      q.up_to_cursor = *latest;
      q.include_reviewed = true;  // streams choose (DecisionStream::Wants)
      q.limit = kReadBatch;
      events = store_.Events(q);
    }
    const absl::Status status = latest.ok() ? events.status() : latest.status();
    if (!status.ok()) {
      // The next wake-up or poll retries; streams keep their position.
      if (metrics_ != nullptr) metrics_->RecordDatabaseError();
      LogWarning(Event{"event_hub_read_failed"},
                 "event hub: reading events failed: ", status.ToString());
      return;
    }
    const bool full = static_cast<int>(events->size()) == kReadBatch;
    const int64_t read_to = full ? events->back().cursor : *latest;
    std::vector<EventPtr> shared;
    shared.reserve(events->size());
    for (ApprovalEvent& e : *events) {
      shared.push_back(std::make_shared<const ApprovalEvent>(std::move(e)));
    }
    absl::MutexLock lock(&mu_);
    // Whatever the listener delivered meanwhile is at most position_ and is
    // skipped; the rest of (from, read_to] is in `shared`.
    Advance(shared, read_to);
    ApplyHeld();
    if (!full) return;
  }
}

void EventHub::Deliver(const EventPtr& e) {
  auto matches = [&](EventSink* sink) {
    const EventFilter& f = sinks_.at(sink);
    return !f.requester || *f.requester == e->approval.requester;
  };
  for (EventSink* sink : all_) {
    if (matches(sink)) sink->OnEvent(e);
  }
  auto it = by_id_.find(e->approval.id);
  if (it == by_id_.end()) return;
  for (EventSink* sink : it->second) {
    if (matches(sink)) sink->OnEvent(e);
  }
}

}  // namespace approval
