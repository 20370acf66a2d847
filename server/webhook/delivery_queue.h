// WebhookQueue: the durable webhook delivery table on PostgreSQL
// (migrations/0006_webhooks.sql). Every method is one short transaction;
// several broker processes may share one database:
// - Enqueue serialises on the endpoint's cursor row (FOR UPDATE), so each
//   event is queued once per endpoint, and moves the cursor in the same
//   transaction as the rows it queues (a crash loses nothing).
// - Claim takes due deliveries with FOR UPDATE SKIP LOCKED and leases them
//   (next_attempt_at = now() + lease), so one process attempts each; a
//   process that dies mid-attempt leaves it due again when the lease ends.
// Errors: UNAVAILABLE when the database cannot be reached (retry later),
// INTERNAL naming the SQLSTATE otherwise; the message never carries the
// database's text. Thread-safe.
#ifndef APPROVAL_SERVER_WEBHOOK_DELIVERY_QUEUE_H_
#define APPROVAL_SERVER_WEBHOOK_DELIVERY_QUEUE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace approval {

namespace pg_internal {
class ConnectionPool;
}  // namespace pg_internal

// One event to queue for an endpoint.
struct QueuedEvent {
  int64_t seq = 0;
  std::string event_type;   // EventTypeName
  std::string approval_id;  // lower-case UUID
  absl::Time occurred_at;
  std::string payload;  // the body sent on every attempt
};

// What a cursor read returns: events to queue (already filtered) and the
// cursor to move to (every seq <= next_cursor considered).
struct EventBatch {
  std::vector<QueuedEvent> events;
  int64_t next_cursor = 0;
};

// A leased delivery to attempt now.
struct ClaimedDelivery {
  int64_t seq = 0;
  std::string payload;
  int attempts = 0;  // including this one
};

enum class DeliveryStatus { kPending, kDelivered, kFailed };
absl::string_view DeliveryStatusName(DeliveryStatus s);

struct DeliveryRecord {
  std::string endpoint;
  int64_t seq = 0;
  std::string event_type;
  std::string approval_id;
  DeliveryStatus status = DeliveryStatus::kPending;
  int attempts = 0;
  absl::Time enqueued_at;
  absl::Time next_attempt_at;
  std::optional<absl::Time> delivered_at;
  std::string last_error;
  int last_http_status = 0;  // 0: none yet
};

struct DeliveryListQuery {
  std::string endpoint;                  // "": every endpoint
  std::optional<DeliveryStatus> status;  // nullopt: every status
  int page_size = 50;                    // clamped to 1..500
  std::string page_token;                // "" = newest first
};

struct DeliveryPage {
  std::vector<DeliveryRecord> deliveries;  // newest event first
  std::string next_page_token;             // "" on the last page
};

class WebhookQueue final {
 public:
  // Connects to `url` (one connection proves it): UNAVAILABLE if the
  // database cannot be reached. `pool_size` connections at most.
  static absl::StatusOr<std::unique_ptr<WebhookQueue>> Open(
      const std::string& url, int pool_size, absl::Duration statement_timeout);
  ~WebhookQueue();

  // Creates the endpoint's cursor at `start_seq` unless it exists (a new
  // endpoint gets events committed from now on, not the whole history).
  absl::Status EnsureCursor(absl::string_view endpoint, int64_t start_seq);

  // Under the endpoint's cursor lock: `read(cursor)` returns what to queue
  // after it; the rows are inserted and the cursor moved, atomically.
  // Returns how many events were considered (next_cursor - old cursor).
  using ReadEvents = std::function<absl::StatusOr<EventBatch>(int64_t after)>;
  absl::StatusOr<int64_t> Enqueue(absl::string_view endpoint,
                                  const ReadEvents& read);

  // Leases up to `limit` due pending deliveries of `endpoint`, oldest first,
  // counting an attempt for each.
  absl::StatusOr<std::vector<ClaimedDelivery>> Claim(absl::string_view endpoint,
                                                     int limit,
                                                     absl::Duration lease);
  // Gives leased deliveries back unattempted (due at once again).
  absl::Status Release(absl::string_view endpoint,
                       const std::vector<int64_t>& seqs);

  // The attempt succeeded: delivered. Returns the lag from the event's
  // commit to now; NOT_FOUND when it was no longer pending (another
  // process delivered it after our lease ran out).
  absl::StatusOr<absl::Duration> MarkDelivered(absl::string_view endpoint,
                                               int64_t seq, int http_status);
  // The attempt failed with `error` (`http_status` 0: no answer): due again
  // after `retry_in`, or failed for good when that would pass
  // enqueued_at + horizon. Returns the status it is now in.
  absl::StatusOr<DeliveryStatus> MarkAttemptFailed(
      absl::string_view endpoint, int64_t seq, absl::string_view error,
      int http_status, absl::Duration retry_in, absl::Duration horizon);

  // How long until the endpoint's next pending delivery is due (zero or
  // negative: now); nullopt when none is pending.
  absl::StatusOr<std::optional<absl::Duration>> NextDue(
      absl::string_view endpoint);

  // The admin listing. INVALID_ARGUMENT for a page_token not handed out here.
  absl::StatusOr<DeliveryPage> List(const DeliveryListQuery& q);

 private:
  explicit WebhookQueue(std::unique_ptr<pg_internal::ConnectionPool> pool);

  std::unique_ptr<pg_internal::ConnectionPool> pool_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_WEBHOOK_DELIVERY_QUEUE_H_
