#include "server/service/event_hub.h"

#include <utility>

#include "server/service/log.h"
#include "server/service/metrics.h"

namespace approval {
namespace {
constexpr int kReadBatch = 500;
}  // namespace

EventHub::EventHub(ApprovalStore& store, absl::Duration poll_interval,
                   BrokerMetrics* metrics, CrossProcessSignal* signal)
    : store_(store),
      poll_interval_(poll_interval),
      metrics_(metrics),
      signal_(signal) {}

EventHub::~EventHub() { Stop(); }

absl::Status EventHub::Start() {
  absl::StatusOr<int64_t> latest = store_.LatestCursor();
  if (!latest.ok()) return latest.status();
  {
    absl::MutexLock lock(&mu_);
    position_ = *latest;
  }
  if (signal_ != nullptr) signal_->Subscribe([this] { Wake(); });
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void EventHub::Stop() {
  if (signal_ != nullptr) signal_->Subscribe(nullptr);
  {
    absl::MutexLock lock(&wake_mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void EventHub::Notify() {
  Wake();
  if (signal_ != nullptr) signal_->Publish();
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
    EventQuery q;
    q.after_cursor = position();
    q.include_reviewed = true;  // streams choose (DecisionStream::Wants)
    q.limit = kReadBatch;
    absl::StatusOr<std::vector<ApprovalEvent>> events = store_.Events(q);
    if (!events.ok()) {
      // The next wake-up or poll retries; streams keep their position.
      if (metrics_ != nullptr) metrics_->RecordDatabaseError();
      LogWarning(
          Event{"event_hub_read_failed"},
          "event hub: reading events failed: ", events.status().ToString());
      return;
    }
    absl::MutexLock lock(&mu_);
    for (ApprovalEvent& e : *events) {
      auto shared = std::make_shared<const ApprovalEvent>(std::move(e));
      Deliver(shared);
      position_ = shared->cursor;
    }
    if (static_cast<int>(events->size()) < kReadBatch) return;
  }
}

void EventHub::Deliver(const std::shared_ptr<const ApprovalEvent>& e) {
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
