// Store decorators for tests of what sits above the store: ForwardingStore
// passes every call (and the commit listener) to another store; the others
// count calls or take over the commit listener to reorder or drop commits.
#ifndef APPROVAL_TESTS_SUPPORT_STORE_FORWARDING_STORE_H_
#define APPROVAL_TESTS_SUPPORT_STORE_FORWARDING_STORE_H_

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/store.h"

namespace approval::testing {

// Every call goes to `inner`, which must outlive this store.
class ForwardingStore : public ApprovalStore {
 public:
  explicit ForwardingStore(ApprovalStore& inner) : inner_(inner) {}

  void SetCommitListener(CommitListener listener) override {
    inner_.SetCommitListener(std::move(listener));
  }
  absl::StatusOr<CreateResult> Create(const NewApproval& req) override {
    return inner_.Create(req);
  }
  absl::StatusOr<Approval> Get(const std::string& id) override {
    return inner_.Get(id);
  }
  absl::StatusOr<ApprovalPage> List(const ListQuery& q) override {
    return inner_.List(q);
  }
  absl::StatusOr<ApprovalEvent> Decide(const DecideInput& in) override {
    return inner_.Decide(in);
  }
  absl::StatusOr<ApprovalEvent> Cancel(const std::string& id,
                                       const std::string& actor,
                                       const std::string& reason) override {
    return inner_.Cancel(id, actor, reason);
  }
  absl::StatusOr<std::vector<ApprovalEvent>> ExpireDue(int limit) override {
    return inner_.ExpireDue(limit);
  }
  absl::StatusOr<std::vector<ApprovalEvent>> EscalateDue(int limit) override {
    return inner_.EscalateDue(limit);
  }
  absl::StatusOr<std::vector<ApprovalEvent>> Events(
      const EventQuery& q) override {
    return inner_.Events(q);
  }
  absl::StatusOr<int64_t> LatestCursor() override {
    return inner_.LatestCursor();
  }
  absl::StatusOr<int64_t> CountPending() override {
    return inner_.CountPending();
  }
  absl::StatusOr<std::vector<AuditEvent>> QueryAudit(
      const AuditQuery& q) override {
    return inner_.QueryAudit(q);
  }
  absl::Status Ping() override { return inner_.Ping(); }

 protected:
  ApprovalStore& inner_;
};

// Counts the event reads (Events and LatestCursor calls) made through it,
// and can hold Events calls back, as a slow database would.
class CountingStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  absl::StatusOr<std::vector<ApprovalEvent>> Events(
      const EventQuery& q) override {
    ++events_calls_;
    {
      absl::MutexLock lock(&gate_mu_);
      gate_mu_.Await(absl::Condition(&gate_open_));
    }
    return inner_.Events(q);
  }
  // While closed, Events calls wait.
  void SetEventsGate(bool open) {
    absl::MutexLock lock(&gate_mu_);
    gate_open_ = open;
  }
  absl::StatusOr<int64_t> LatestCursor() override {
    ++latest_cursor_calls_;
    return inner_.LatestCursor();
  }
  int events_calls() const { return events_calls_.load(); }
  int latest_cursor_calls() const { return latest_cursor_calls_.load(); }

 private:
  std::atomic<int> events_calls_{0};
  std::atomic<int> latest_cursor_calls_{0};
  absl::Mutex gate_mu_;
  bool gate_open_ ABSL_GUARDED_BY(gate_mu_) = true;
};

// Keeps the commits `inner` reports instead of passing them to the listener
// set through it; the test hands them over (Release) in the order it
// chooses, or drops them, as if another process had committed them.
class HoldingStore final : public ForwardingStore {
 public:
  explicit HoldingStore(ApprovalStore& inner) : ForwardingStore(inner) {
    inner_.SetCommitListener([this](const CommittedEvents& c) {
      absl::MutexLock lock(&mu_);
      held_.push_back(c);
    });
  }
  ~HoldingStore() override { inner_.SetCommitListener(nullptr); }

  void SetCommitListener(CommitListener listener) override {
    absl::MutexLock lock(&mu_);
    listener_ = std::move(listener);
  }
  // Takes the commits held so far, in the order they were reported.
  std::vector<CommittedEvents> TakeHeld() {
    absl::MutexLock lock(&mu_);
    return std::exchange(held_, {});
  }
  // Hands `c` to the listener set through this store.
  void Release(const CommittedEvents& c) {
    CommitListener listener;
    {
      absl::MutexLock lock(&mu_);
      listener = listener_;
    }
    if (listener) listener(c);
  }

 private:
  absl::Mutex mu_;
  std::vector<CommittedEvents> held_ ABSL_GUARDED_BY(mu_);
  CommitListener listener_ ABSL_GUARDED_BY(mu_);
};

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_STORE_FORWARDING_STORE_H_
