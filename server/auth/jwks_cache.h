// JwksCache: the IdP's keys (from a JwksSource), looked up by key id, and
// refreshed in the background when a token names a key id it does not hold.
//
// A slow or unreachable IdP must not stall anyone else, so no caller ever
// fetches: the cache owns one fetch thread (at most one fetch runs at a
// time) and one timer thread. A lookup of a held key answers at once. A
// lookup of an unknown key id either answers at once (no fetch allowed yet,
// too many callers waiting, no wait configured) or leaves a callback that
// is called when the fetch that can tell ends, or after `unknown_key_wait`,
// whichever comes first; it holds no thread while it waits.
#ifndef APPROVAL_SERVER_AUTH_JWKS_CACHE_H_
#define APPROVAL_SERVER_AUTH_JWKS_CACHE_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/auth/jwk.h"
#include "server/auth/jwks_source.h"

namespace approval {

struct JwksCacheOptions {
  // Least time from the end of one fetch to the start of the next one
  // caused by an unknown key id. Counted from the end, so that a slow IdP
  // is not asked again as soon as it answers. Default 30s.
  absl::Duration refresh_min_interval = absl::Seconds(30);
  // Longest a lookup of an unknown key id waits for a fetch; then it is
  // answered without a key (the fetch goes on, for later callers). Zero:
  // never wait (a fetch is still started). Default 2s.
  absl::Duration unknown_key_wait = absl::Seconds(2);
  // Most lookups waiting at once; more are answered at once without a key.
  // Default 1024.
  size_t max_waiters = 1024;
  // Create fails when the first fetch fails (a local file: a broken one is a
  // start-up error). Otherwise (a URL) the first fetch runs in the
  // background and Create returns at once. Default true.
  bool initial_load_required = true;
};

// Thread-safe.
class JwksCache final {
 public:
  // The outcome of a lookup: the key, or why there is none (for the log).
  // `pending` is true when the answer came because the wait ended while a
  // fetch was still running.
  struct Lookup {
    std::optional<Jwk> key;
    std::string why;
    bool pending = false;
  };
  using LookupCallback = std::function<void(Lookup)>;

  // Starts the threads. With options.initial_load_required, first fetches
  // once on the calling thread and returns that fetch's error (UNAVAILABLE
  // from the source, INVALID_ARGUMENT from the JWKS parser). `clock` gives
  // the time for refresh_min_interval (tests inject one); waits are in real
  // time.
  static absl::StatusOr<std::unique_ptr<JwksCache>> Create(
      JwksCacheOptions options, std::unique_ptr<JwksSource> source,
      std::function<absl::Time()> clock);

  // Answers the callbacks still waiting (no key, "shutting down"), then
  // stops the threads; waits for a fetch in progress to end (bounded by the
  // source's fetch timeout).
  ~JwksCache();

  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // The key for `kid`, or why not, when that is known now. Otherwise (the
  // key is not held, and a fetch is running, or may start because the last
  // one ended refresh_min_interval ago: then it is started) returns nullopt
  // and keeps `later`, which is then called exactly once, on one of the
  // cache's threads, when that fetch ends or unknown_key_wait has passed.
  // `later` must not block.
  std::optional<Lookup> FindOrWait(const std::string& kid,
                                   LookupCallback later);

  // Key ids currently held, for tests and diagnostics.
  std::set<std::string> KeyIds() const;

  // The source's description ("JWKS file /etc/idp/jwks.json").
  std::string Describe() const { return source_->Describe(); }

 private:
  struct Waiter {
    std::string kid;
    LookupCallback done;
  };

  JwksCache(JwksCacheOptions options, std::unique_ptr<JwksSource> source,
            std::function<absl::Time()> clock);

  // Fetches and parses once; replaces the keys on success. The error (with
  // the source named) on failure. Called without mu_.
  absl::Status FetchOnce();
  void FetchLoop();
  void TimerLoop();
  // The answer for `kid` from the keys now held, once a fetch has ended.
  Lookup AfterFetch(const std::string& kid) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const JwksCacheOptions options_;
  const std::unique_ptr<JwksSource> source_;
  const std::function<absl::Time()> clock_;

  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // fetch requested, waiter added, stopping
  std::shared_ptr<const JwkSet> keys_ ABSL_GUARDED_BY(mu_);
  // End of the last fetch (by clock_), and its error ("" when it worked).
  std::optional<absl::Time> last_fetch_end_ ABSL_GUARDED_BY(mu_);
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  bool fetch_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // By real-time deadline.
  std::multimap<absl::Time, Waiter> waiters_ ABSL_GUARDED_BY(mu_);

  std::thread fetcher_;
  std::thread timer_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_JWKS_CACHE_H_
