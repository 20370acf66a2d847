// PostgresSignal: CrossProcessSignal over PostgreSQL LISTEN/NOTIFY on the
// channel "approval_events", so a broker wakes its event hub as soon as
// another broker on the same database commits, instead of at its next poll.
//
// NOTIFY is sent on a connection of its own, in a transaction of its own,
// after the change committed: a notifying commit takes a cluster-wide lock,
// which inside the decision's transaction would serialise every decision.
// Publishes that arrive while one is in flight are folded into the next.
// Both connections reconnect by themselves; after a reconnect the listener
// wakes the hub once, since notifications may have been missed. This
// process's own notifications are ignored: its hub was woken at the commit.
#ifndef APPROVAL_SERVER_STORE_POSTGRES_POSTGRES_SIGNAL_H_
#define APPROVAL_SERVER_STORE_POSTGRES_POSTGRES_SIGNAL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/signal.h"

namespace approval {

class PostgresSignal final : public CrossProcessSignal {
 public:
  // Starts the listener and publisher threads on `url`; never fails (a
  // database that is down is retried every second).
  explicit PostgresSignal(std::string url);
  ~PostgresSignal() override;  // stops both threads

  void Publish() override;
  void Subscribe(std::function<void()> wake) override;

 private:
  void Listen();
  void PublishLoop();
  void CallWake();
  bool WaitStopping(absl::Duration d);

  const std::string url_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool pending_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex wake_mu_;  // held while `wake_` runs, see Subscribe()
  std::function<void()> wake_ ABSL_GUARDED_BY(wake_mu_);
  // Backend pid of the publishing connection (0: none yet).
  std::atomic<int> publisher_pid_{0};
  std::thread listener_;
  std::thread publisher_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_STORE_POSTGRES_POSTGRES_SIGNAL_H_
