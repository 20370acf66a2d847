// EventHub: one process-wide reader of committed approval events that fans
// them out to every open stream, so no stream ever polls the database.
//
// The hub reads events in cursor order from the store when woken (Notify(),
// called after each local commit) and at least every poll interval (which
// also picks up events committed by other broker processes on the same
// database). Because cursors are gap-free and commit-ordered (store.h), the
// hub delivers every event exactly once, in order, to each matching sink.
#ifndef APPROVAL_SERVER_SERVICE_EVENT_HUB_H_
#define APPROVAL_SERVER_SERVICE_EVENT_HUB_H_

#include <functional>
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

// Receives live events. OnEvent runs on the hub's thread while the hub holds
// its lock: it must not block and must not call back into the hub.
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

  // Reads the current cursor and starts the reader thread. UNAVAILABLE if
  // the store cannot be read.
  absl::Status Start();
  void Stop();

  // Wakes the reader and tells other processes: this process committed
  // something. Cheap; never blocks on I/O.
  void Notify();

  // Registers `sink`; returns the cursor H such that the sink will receive
  // every matching event with cursor > H, in order. The caller reads older
  // events (<= H) from the store itself. `sink` must outlive its
  // registration.
  int64_t Subscribe(EventSink* sink, EventFilter filter);
  // After this returns, `sink` receives no more events.
  void Unsubscribe(EventSink* sink);

  // The cursor up to which events have been delivered.
  int64_t position() const;

 private:
  void Wake();
  void Run();
  void ReadAvailable();
  void Deliver(const std::shared_ptr<const ApprovalEvent>& e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ApprovalStore& store_;
  const absl::Duration poll_interval_;
  BrokerMetrics* const metrics_;
  CrossProcessSignal* const signal_;

  mutable absl::Mutex mu_;
  int64_t position_ ABSL_GUARDED_BY(mu_) = 0;
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
