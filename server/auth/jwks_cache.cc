#include "server/auth/jwks_cache.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace approval {
namespace {

std::string Timestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace

JwksCache::JwksCache(JwksCacheOptions options,
                     std::unique_ptr<JwksSource> source,
                     std::function<absl::Time()> clock)
    : options_(std::move(options)),
      source_(std::move(source)),
      clock_(std::move(clock)),
      keys_(std::make_shared<const JwkSet>()) {}

absl::StatusOr<std::unique_ptr<JwksCache>> JwksCache::Create(
    JwksCacheOptions options, std::unique_ptr<JwksSource> source,
    std::function<absl::Time()> clock) {
  if (source == nullptr || !clock) {
    return absl::InvalidArgumentError(
        "JWKS cache: a key source and a clock are required");
  }
  std::unique_ptr<JwksCache> cache(
      new JwksCache(std::move(options), std::move(source), std::move(clock)));
  if (cache->options_.initial_load_required) {
    // Before the threads start: nothing else touches the cache yet.
    absl::Status loaded = cache->FetchOnce();
    absl::MutexLock lock(&cache->mu_);
    cache->last_fetch_end_ = cache->clock_();
    if (!loaded.ok()) return loaded;
  } else {
    absl::MutexLock lock(&cache->mu_);
    cache->fetch_requested_ = true;
  }
  cache->fetcher_ = std::thread([c = cache.get()] { c->FetchLoop(); });
  cache->timer_ = std::thread([c = cache.get()] { c->TimerLoop(); });
  return cache;
}

JwksCache::~JwksCache() {
  std::multimap<absl::Time, Waiter> waiting;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    waiting.swap(waiters_);
    changed_.SignalAll();
  }
  for (auto& [deadline, waiter] : waiting) {
    waiter.done(Lookup{std::nullopt, "the broker is shutting down", true});
  }
  if (timer_.joinable()) timer_.join();
  if (fetcher_.joinable()) fetcher_.join();
}

absl::Status JwksCache::FetchOnce() {
  absl::StatusOr<std::string> text = source_->Fetch();
  absl::StatusOr<JwkSet> set = text.ok()
                                   ? ParseJwks(*text, source_->Describe())
                                   : absl::StatusOr<JwkSet>(text.status());
  if (!set.ok()) return set.status();
  absl::MutexLock lock(&mu_);
  keys_ = std::make_shared<const JwkSet>(*std::move(set));
  return absl::OkStatus();
}

std::optional<JwksCache::Lookup> JwksCache::FindOrWait(const std::string& kid,
                                                       LookupCallback later) {
  absl::MutexLock lock(&mu_);
  const auto it = keys_->keys.find(kid);
  if (it != keys_->keys.end()) return Lookup{it->second, ""};
  if (stopping_) {
    return Lookup{std::nullopt, "the broker is shutting down"};
  }
  if (!fetch_requested_ && !fetching_) {
    const absl::Time now = clock_();
    if (last_fetch_end_.has_value() &&
        now - *last_fetch_end_ < options_.refresh_min_interval) {
      return Lookup{
          std::nullopt,
          absl::StrCat(
              "not in the key set, which was loaded at ",
              Timestamp(*last_fetch_end_),
              "; the next reload is allowed after ",
              Timestamp(*last_fetch_end_ + options_.refresh_min_interval),
              last_error_.empty()
                  ? ""
                  : absl::StrCat(" (that load failed: ", last_error_, ")"))};
    }
    fetch_requested_ = true;
    changed_.SignalAll();
  }
  if (options_.unknown_key_wait <= absl::ZeroDuration()) {
    return Lookup{std::nullopt,
                  "not in the key set; a reload is running, and callers do "
                  "not wait for it (unknown_key_wait 0)",
                  true};
  }
  if (waiters_.size() >= options_.max_waiters) {
    return Lookup{std::nullopt,
                  absl::StrCat("not in the key set; a reload is running, and ",
                               waiters_.size(), " callers already wait for it"),
                  true};
  }
  waiters_.emplace(absl::Now() + options_.unknown_key_wait,
                   Waiter{kid, std::move(later)});
  changed_.SignalAll();
  return std::nullopt;
}

JwksCache::Lookup JwksCache::AfterFetch(const std::string& kid) const {
  const auto it = keys_->keys.find(kid);
  if (it != keys_->keys.end()) return Lookup{it->second, ""};
  if (last_error_.empty()) {
    return Lookup{std::nullopt, "not in the key set, even after reloading it"};
  }
  return Lookup{std::nullopt,
                absl::StrCat("not in the key set, and reloading it failed: ",
                             last_error_)};
}

void JwksCache::FetchLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      while (!fetch_requested_ && !stopping_) changed_.Wait(&mu_);
      if (stopping_) return;
      fetch_requested_ = false;
      fetching_ = true;
    }
    const absl::Status fetched = FetchOnce();
    std::vector<std::pair<LookupCallback, Lookup>> answers;
    {
      absl::MutexLock lock(&mu_);
      fetching_ = false;
      last_fetch_end_ = clock_();
      last_error_ = fetched.ok() ? "" : std::string(fetched.message());
      answers.reserve(waiters_.size());
      for (auto& [deadline, waiter] : waiters_) {
        answers.emplace_back(std::move(waiter.done), AfterFetch(waiter.kid));
      }
      waiters_.clear();
    }
    for (auto& [done, lookup] : answers) done(std::move(lookup));
  }
}

void JwksCache::TimerLoop() {
  for (;;) {
    std::vector<Waiter> expired;
    {
      absl::MutexLock lock(&mu_);
      for (;;) {
        if (stopping_) return;
        if (waiters_.empty()) {
          changed_.Wait(&mu_);
          continue;
        }
        const absl::Time first = waiters_.begin()->first;
        if (absl::Now() >= first) break;
        changed_.WaitWithDeadline(&mu_, first);
      }
      const absl::Time now = absl::Now();
      while (!waiters_.empty() && waiters_.begin()->first <= now) {
        expired.push_back(std::move(waiters_.begin()->second));
        waiters_.erase(waiters_.begin());
      }
    }
    for (Waiter& waiter : expired) {
      waiter.done(
          Lookup{std::nullopt,
                 absl::StrCat("not in the key set; the reload from ",
                              Describe(), " had not ended after ",
                              absl::FormatDuration(options_.unknown_key_wait)),
                 true});
    }
  }
}

std::set<std::string> JwksCache::KeyIds() const {
  absl::MutexLock lock(&mu_);
  std::set<std::string> ids;
  for (const auto& [kid, key] : keys_->keys) ids.insert(kid);
  return ids;
}

}  // namespace approval
