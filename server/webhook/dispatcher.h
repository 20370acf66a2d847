// WebhookDispatcher: delivers approval events to the configured webhook
// endpoints, at least once, from the durable queue (delivery_queue.h).
//
// One thread per endpoint, so a slow or hostile endpoint (bounded by its
// timeout) never holds up another. Each thread, when woken (Wake(): a local
// commit) or every poll_interval, or when its next retry is due:
//   1. queues the events committed since its cursor (store->Events), each
//      with its body built once (webhook_event.h);
//   2. claims due deliveries (leased, so one replica attempts each) and
//      POSTs them, signed with every secret (signature.h), webhook-id
//      "evt_<seq>_<endpoint>" on every attempt;
//   3. records the outcome: 2xx delivered; anything else retried after an
//      exponential backoff with jitter, or failed past the retry horizon.
// No event is lost to a crash or restart: the cursor moves only with the
// rows it queued, and a lease that ends unanswered makes its delivery due
// again (the receiver may then see the same webhook-id twice).
//
// Thread-safe. `store`, `queue` and `metrics` must outlive the dispatcher.
#ifndef APPROVAL_SERVER_WEBHOOK_DISPATCHER_H_
#define APPROVAL_SERVER_WEBHOOK_DISPATCHER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/store.h"
#include "server/webhook/delivery_queue.h"
#include "server/webhook/webhook_config.h"

namespace approval {

// Where the dispatcher reports outcomes (BrokerMetrics implements it).
// Called from the endpoint threads; must be thread-safe and not block.
class WebhookMetrics {
 public:
  virtual ~WebhookMetrics() = default;
  // endpoint: a configured endpoint name. lag: event commit -> delivered.
  virtual void RecordWebhookDelivered(absl::string_view endpoint,
                                      absl::Duration lag) = 0;
  // An attempt failed and the delivery will be tried again.
  virtual void RecordWebhookRetry(absl::string_view endpoint) = 0;
  // A delivery gave up past the retry horizon.
  virtual void RecordWebhookFailed(absl::string_view endpoint) = 0;
};

class WebhookDispatcher final {
 public:
  // `config` must have passed ValidateWebhooksConfig. `metrics` may be null.
  WebhookDispatcher(const WebhooksConfig& config, ApprovalStore& store,
                    WebhookQueue& queue, WebhookMetrics* metrics);
  ~WebhookDispatcher();  // Stop()

  // Creates missing cursors (at the store's latest cursor) and starts one
  // thread per endpoint. UNAVAILABLE if the database cannot be reached;
  // INVALID_ARGUMENT if a secret does not decode.
  absl::Status Start();
  // Stops the threads; an attempt in flight ends within its timeout.
  // Idempotent.
  void Stop();
  // Something was committed: look now. Cheap, never blocks on I/O.
  void Wake();

 private:
  struct Endpoint;
  void Run(Endpoint& e);
  // One pass: queue new events, deliver what is due. Returns when nothing
  // more is due or on stop.
  void Pass(Endpoint& e);
  absl::StatusOr<EventBatch> ReadEvents(const Endpoint& e, int64_t after);
  void Attempt(Endpoint& e, const ClaimedDelivery& d);
  absl::Duration Backoff(Endpoint& e, int attempts);
  // Waits until woken, stopped or `timeout` passed; false once stopping.
  bool WaitForWork(Endpoint& e, absl::Duration timeout);
  bool stopping() const;

  const WebhooksConfig config_;
  ApprovalStore& store_;
  WebhookQueue& queue_;
  WebhookMetrics* const metrics_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Bumped by Wake(); each endpoint remembers the value it last saw.
  uint64_t wakes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_WEBHOOK_DISPATCHER_H_
