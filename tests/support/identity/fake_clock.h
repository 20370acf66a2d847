// A settable clock for code that takes std::function<absl::Time()>.
#ifndef APPROVAL_TESTS_SUPPORT_IDENTITY_FAKE_CLOCK_H_
#define APPROVAL_TESTS_SUPPORT_IDENTITY_FAKE_CLOCK_H_

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace approval::testing {

// Thread-safe. Must outlive the functions Function() returns.
class FakeClock final {
 public:
  explicit FakeClock(absl::Time now) : now_(now) {}

  absl::Time Now() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  std::function<absl::Time()> Function() const {
    return [this] { return Now(); };
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_IDENTITY_FAKE_CLOCK_H_
