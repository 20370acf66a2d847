// EventHub: fans committed approval events out to every open stream, so no
// stream ever polls the database.
//
// Events this process commits come straight from the store's commit listener
// (store.h SetCommitListener), without reading them back. The hub's position
// is an audit seq: a commit that starts right after it is delivered at once
// and moves it to the commit's last seq. A commit past a gap (events of
// another broker process on the same database, or a local commit that
// overtook an earlier one) is held while the reader thread fills the gap
// from the store by cursor, up to the latest committed seq. The reader also
// runs when another process signals a commit and at least every poll
// interval. Because seqs are gap-free and commit-ordered (store.h), every
// event reaches each matching sink exactly once, in order.
#ifndef APPROVAL_SERVER_SERVICE_EVENT_HUB_H_
#define APPROVAL_SERVER_SERVICE_EVENT_HUB_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/signal.h"
#include "server/store/store.h"

namespace approval {

class BrokerMetrics;

// Receives live events. OnEvent runs on the hub's reader thread or on a
// committing thread while the hub holds its lock: it must not block and must
// not call back into the hub or the store.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void OnEvent(const std::shared_ptr<const ApprovalEvent>& event) = 0;
};

struct EventFilter {
  std::vector<std::string> approval_ids;  // empty: every approval
  std::optional<std::string> requester;   // only this requester's approvals
};

class EventHub final {
 public:
  // `signal` (may be null) must outlive the hub.
  EventHub(ApprovalStore& store, absl::Duration poll_interval,
           BrokerMetrics* metrics, CrossProcessSignal* signal = nullptr);
  ~EventHub();  // stops the reader thread

  // Becomes the store's commit listener, reads the current cursor and starts
  // the reader thread. UNAVAILABLE if the store cannot be read.
  absl::Status Start();
  // After this returns no sink gets another event.
  void Stop();

  // Registers `sink`; returns the cursor H such that the sink will receive
  // every matching event with cursor > H, in order. The caller reads older
  // events (<= H) from the store itself. `sink` must outlive its
  // registration.
  int64_t Subscribe(EventSink* sink, EventFilter filter);
  // After this returns, `sink` receives no more events.
  void Unsubscribe(EventSink* sink);

  // The audit seq up to which events have been delivered.
  int64_t position() const;

 private:
  using EventPtr = std::shared_ptr<const ApprovalEvent>;
  // A commit that arrived past a gap, held until the gap is filled.
  struct HeldCommit {
    int64_t last_seq = 0;
    std::vector<EventPtr> events;
  };
  // Lets the store's listener outlive the hub: Stop clears `hub`.
  struct ListenerTarget {
    absl::Mutex mu;
    EventHub* hub ABSL_GUARDED_BY(mu) = nullptr;
  };

  void OnCommitted(const CommittedEvents& c);
  void Wake();
  void Run();
  void ReadAvailable();
  // Delivers the events of `events` past position_ and moves position_ to
  // `last_seq` (every seq up to it is then delivered).
  void Advance(const std::vector<EventPtr>& events, int64_t last_seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies the held commits that now follow position_, drops the ones it
  // passed.
  void ApplyHeld() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Deliver(const EventPtr& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ApprovalStore& store_;
  const absl::Duration poll_interval_;
  BrokerMetrics* const metrics_;
  CrossProcessSignal* const signal_;

  const std::shared_ptr<ListenerTarget> listener_target_ =
      std::make_shared<ListenerTarget>();

  mutable absl::Mutex mu_;
  int64_t position_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  // By first seq. Only an optimisation: the reader reads whatever is
  // dropped from here.
  std::map<int64_t, HeldCommit> held_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<EventSink*, EventFilter> sinks_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::unordered_set<EventSink*>> by_id_
      ABSL_GUARDED_BY(mu_);
  std::unordered_set<EventSink*> all_ ABSL_GUARDED_BY(mu_);

  absl::Mutex wake_mu_;
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::thread thread_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_EVENT_HUB_H_
