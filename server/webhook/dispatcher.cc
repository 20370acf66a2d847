#include "server/webhook/dispatcher.h"

#include <algorithm>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/domain/approval.h"
#include "server/service/log.h"
#include "server/webhook/https_poster.h"
#include "server/webhook/signature.h"
#include "server/webhook/webhook_event.h"

namespace approval {
namespace {

constexpr int kReadBatch = 500;
constexpr int kClaimBatch = 16;
// Enqueue rounds in one pass before deliveries get their turn.
constexpr int kMaxEnqueueRounds = 20;
// Never wait less than this between passes, even with work due at once
// (rows another replica holds): no busy loop.
constexpr absl::Duration kMinWait = absl::Milliseconds(10);

}  // namespace

struct WebhookDispatcher::Endpoint {
  WebhookEndpoint config;
  std::vector<std::string> keys;  // decoded secrets, in config order
  std::set<EventType> types;
  absl::Duration lease;
  std::mt19937_64 random;
  uint64_t seen_wakes = 0;
  std::thread thread;
};

WebhookDispatcher::WebhookDispatcher(const WebhooksConfig& config,
                                     ApprovalStore& store, WebhookQueue& queue,
                                     WebhookMetrics* metrics)
    : config_(config), store_(store), queue_(queue), metrics_(metrics) {}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

absl::Status WebhookDispatcher::Start() {
  absl::StatusOr<int64_t> latest = store_.LatestCursor();
  if (!latest.ok()) return latest.status();
  std::random_device seed;
  for (const WebhookEndpoint& c : config_.endpoints) {
    auto e = std::make_unique<Endpoint>();
    e->config = c;
    for (const std::string& secret : c.secrets) {
      absl::StatusOr<std::string> key = DecodeWebhookSecret(secret);
      if (!key.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("webhooks: endpoint ",
                                                       c.name, ": a secret ",
                                                       key.status().message()));
      }
      e->keys.push_back(*std::move(key));
    }
    for (const std::string& name : c.event_types) {
      if (std::optional<EventType> t = ParseEventType(name))
        e->types.insert(*t);
    }
    // Long enough for kClaimBatch attempts is not needed: Pass gives back
    // what it cannot start within the lease.
    e->lease = 2 * c.timeout + absl::Seconds(5);
    e->random.seed((static_cast<uint64_t>(seed()) << 32) ^ seed());
    if (absl::Status s = queue_.EnsureCursor(c.name, *latest); !s.ok()) {
      return s;
    }
    endpoints_.push_back(std::move(e));
  }
  for (auto& e : endpoints_) {
    Endpoint* endpoint = e.get();
    e->thread = std::thread([this, endpoint] { Run(*endpoint); });
  }
  return absl::OkStatus();
}

void WebhookDispatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& e : endpoints_) {
    if (e->thread.joinable()) e->thread.join();
  }
}

void WebhookDispatcher::Wake() {
  absl::MutexLock lock(&mu_);
  ++wakes_;
}

bool WebhookDispatcher::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool WebhookDispatcher::WaitForWork(Endpoint& e, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto woken = [this, &e]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || wakes_ != e.seen_wakes;
  };
  mu_.AwaitWithTimeout(absl::Condition(&woken), timeout);
  e.seen_wakes = wakes_;
  return !stopping_;
}

void WebhookDispatcher::Run(Endpoint& e) {
  while (!stopping()) {
    Pass(e);
    absl::Duration wait = config_.poll_interval;
    absl::StatusOr<std::optional<absl::Duration>> due =
        queue_.NextDue(e.config.name);
    if (due.ok() && due->has_value()) wait = std::min(wait, **due);
    if (!WaitForWork(e, std::max(wait, kMinWait))) return;
  }
}

absl::StatusOr<EventBatch> WebhookDispatcher::ReadEvents(const Endpoint& e,
                                                         int64_t after) {
  absl::StatusOr<int64_t> latest = store_.LatestCursor();
  if (!latest.ok()) return latest.status();
  EventBatch batch;
  batch.next_cursor = after;
  if (*latest <= after) return batch;
  EventQuery q;
  q.after_cursor = after;
  q.up_to_cursor = *latest;
  q.limit = kReadBatch;
  q.include_reviewed = e.types.count(EventType::kReviewed) > 0 ||
                       e.types.count(EventType::kEscalated) > 0;
  absl::StatusOr<std::vector<ApprovalEvent>> events = store_.Events(q);
  if (!events.ok()) return events.status();
  // Events skips audit-only ones, so a short page means "up to latest".
  batch.next_cursor = static_cast<int>(events->size()) == kReadBatch
                          ? events->back().cursor
                          : *latest;
  for (const ApprovalEvent& ev : *events) {
    if (e.types.count(ev.type) == 0) continue;
    batch.events.push_back({ev.cursor, std::string(EventTypeName(ev.type)),
                            ev.approval.id, ev.occurred_at,
                            WebhookEventBody(ev)});
  }
  return batch;
}

void WebhookDispatcher::Pass(Endpoint& e) {
  const std::string& name = e.config.name;
  for (int round = 0; round < kMaxEnqueueRounds; ++round) {
    absl::StatusOr<int64_t> considered = queue_.Enqueue(
        name, [this, &e](int64_t after) { return ReadEvents(e, after); });
    if (!considered.ok()) {
      LogWarning(Event{"webhook_enqueue_failed"}, "webhooks: endpoint ", name,
                 ": cannot queue events: ", considered.status().message());
      break;
    }
    if (*considered == 0) break;
  }
  while (!stopping()) {
    absl::StatusOr<std::vector<ClaimedDelivery>> claimed =
        queue_.Claim(name, kClaimBatch, e.lease);
    if (!claimed.ok()) {
      LogWarning(Event{"webhook_claim_failed"}, "webhooks: endpoint ", name,
                 ": cannot claim deliveries: ", claimed.status().message());
      return;
    }
    if (claimed->empty()) return;
    const absl::Time claimed_at = absl::Now();
    for (size_t i = 0; i < claimed->size(); ++i) {
      // An attempt must end inside the lease, or another replica could
      // start the same one: give back what cannot start in time.
      if (stopping() ||
          absl::Now() - claimed_at + e.config.timeout + absl::Seconds(1) >
              e.lease) {
        std::vector<int64_t> rest;
        for (size_t j = i; j < claimed->size(); ++j) {
          rest.push_back((*claimed)[j].seq);
        }
        (void)queue_.Release(name, rest);  // else they wait out the lease
        break;
      }
      Attempt(e, (*claimed)[i]);
    }
  }
}

absl::Duration WebhookDispatcher::Backoff(Endpoint& e, int attempts) {
  absl::Duration delay = config_.initial_backoff;
  for (int i = 1; i < attempts && delay < config_.max_backoff; ++i) delay *= 2;
  delay = std::min(delay, config_.max_backoff);
  // Jitter: 50..100% of the delay, so receivers that come back are not hit
  // by every retry at once.
  std::uniform_real_distribution<double> factor(0.5, 1.0);
  return delay * factor(e.random);
}

void WebhookDispatcher::Attempt(Endpoint& e, const ClaimedDelivery& d) {
  const std::string& name = e.config.name;
  const std::string id = WebhookId(d.seq, name);
  const int64_t timestamp = absl::ToUnixSeconds(absl::Now());
  WebhookPost post;
  post.url = e.config.url;
  post.ca_file = e.config.ca_file;
  post.timeout = e.config.timeout;
  post.headers = {
      {"webhook-id", id},
      {"webhook-timestamp", absl::StrCat(timestamp)},
      {"webhook-signature",
       WebhookSignatureHeader(e.keys, id, timestamp, d.payload)},
  };
  post.body = d.payload;
  absl::StatusOr<int> answer = PostWebhook(post);
  if (answer.ok() && *answer >= 200 && *answer < 300) {
    absl::StatusOr<absl::Duration> lag =
        queue_.MarkDelivered(name, d.seq, *answer);
    if (lag.ok() && metrics_ != nullptr) {
      metrics_->RecordWebhookDelivered(name, *lag);
    }
    if (!lag.ok() && !absl::IsNotFound(lag.status())) {
      LogWarning(Event{"webhook_record_failed"}, "webhooks: endpoint ", name,
                 ": ", id,
                 " delivered but not recorded (it will be sent "
                 "again): ",
                 lag.status().message());
    }
    return;
  }
  const std::string error = answer.ok()
                                ? absl::StrCat("HTTP status ", *answer)
                                : std::string(answer.status().message());
  absl::StatusOr<DeliveryStatus> now =
      queue_.MarkAttemptFailed(name, d.seq, error, answer.ok() ? *answer : 0,
                               Backoff(e, d.attempts), config_.retry_horizon);
  if (!now.ok()) {
    LogWarning(Event{"webhook_record_failed"}, "webhooks: endpoint ", name,
               ": ", id, ": attempt failed (", error,
               ") and could not be recorded: ", now.status().message());
    return;
  }
  if (*now == DeliveryStatus::kFailed) {
    if (metrics_ != nullptr) metrics_->RecordWebhookFailed(name);
    LogError(Event{"webhook_failed"}, "webhooks: endpoint ", name, ": ", id,
             " failed after ", d.attempts,
             " attempts (retry horizon reached): ", error);
  } else {
    if (metrics_ != nullptr) metrics_->RecordWebhookRetry(name);
    LogWarning(Event{"webhook_retry"}, "webhooks: endpoint ", name, ": ", id,
               " attempt ", d.attempts, " failed, will retry: ", error);
  }
}

}  // namespace approval
