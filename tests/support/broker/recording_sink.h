// Event sinks for tests of the EventHub (server/service/event_hub.h).
#ifndef APPROVAL_TESTS_SUPPORT_BROKER_RECORDING_SINK_H_
#define APPROVAL_TESTS_SUPPORT_BROKER_RECORDING_SINK_H_

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/service/event_hub.h"
#include "server/store/store.h"

namespace approval::testing {

// Records the cursors it receives.
class RecordingSink final : public EventSink {
 public:
  void OnEvent(const std::shared_ptr<const ApprovalEvent>& event) override {
    absl::MutexLock lock(&mu_);
    cursors_.push_back(event->cursor);
  }
  std::vector<int64_t> cursors() {
    absl::MutexLock lock(&mu_);
    return cursors_;
  }
  // Waits up to `wait` until `n` events have arrived; the cursors then.
  std::vector<int64_t> AwaitCount(size_t n,
                                  absl::Duration wait = absl::Seconds(30)) {
    std::pair<RecordingSink*, size_t> arg(this, n);
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](std::pair<RecordingSink*, size_t>* a)
                                  ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                    return a->first->cursors_.size() >=
                                           a->second;
                                  },
                             &arg),
                         wait);
    return cursors_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int64_t> cursors_ ABSL_GUARDED_BY(mu_);
};

// The cursors of every stream event in `store`, ascending.
inline std::vector<int64_t> AllEventCursors(ApprovalStore& store) {
  EventQuery q;
  q.limit = 1 << 20;
  q.include_reviewed = true;  // as the hub reads (streams choose)
  absl::StatusOr<std::vector<ApprovalEvent>> events = store.Events(q);
  REQUIRE(events.ok());
  std::vector<int64_t> out;
  for (const ApprovalEvent& e : *events) out.push_back(e.cursor);
  return out;
}

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_BROKER_RECORDING_SINK_H_
