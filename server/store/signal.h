// CrossProcessSignal: carries "something was committed" between broker
// processes that share a database (PostgresSignal: LISTEN/NOTIFY). Only a
// hint: readers still read the events themselves, in cursor order, so a lost
// signal costs at most one poll interval.
#ifndef APPROVAL_SERVER_STORE_SIGNAL_H_
#define APPROVAL_SERVER_STORE_SIGNAL_H_

#include <functional>

namespace approval {

class CrossProcessSignal {
 public:
  virtual ~CrossProcessSignal() = default;
  // Tells every subscribed process, this one included; asynchronous, best
  // effort, never blocks on I/O.
  virtual void Publish() = 0;
  // `wake` runs (on the signal's own thread) whenever some process
  // published; it replaces any earlier one. Subscribe(nullptr) stops the
  // calls: once it returns, no call of the old `wake` is running.
  virtual void Subscribe(std::function<void()> wake) = 0;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_STORE_SIGNAL_H_
