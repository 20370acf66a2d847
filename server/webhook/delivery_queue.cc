#include "server/webhook/delivery_queue.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pqxx/nontransaction"
#include "pqxx/result"
#include "pqxx/transaction"
#include "server/store/postgres/connection_pool.h"
#include "server/store/postgres/conninfo.h"
#include "server/store/postgres/pg_errors.h"

namespace approval {
namespace {

using pg_internal::ConnectionPool;

constexpr int kMaxPageSize = 500;
constexpr int kConnectTimeoutSeconds = 3;
constexpr size_t kMaxErrorBytes = 500;

using Body = std::function<absl::Status(pqxx::connection_base&, bool&)>;

// Runs `body` on a pooled connection; the one place where this module's
// database exceptions become statuses. A stale pooled connection (the
// server restarted while it idled) is retried once on a fresh one.
absl::Status Run(ConnectionPool& pool, absl::string_view context,
                 const Body& body) {
  absl::Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<ConnectionPool::Lease> lease = pool.Borrow();
    if (!lease.ok()) {
      return absl::Status(lease.status().code(),
                          absl::StrCat(context, ": database unavailable"));
    }
    bool commit_started = false;
    try {
      return body(lease->conn(), commit_started);
    } catch (...) {
      pg_internal::PgFailure failure =
          pg_internal::ClassifyCurrentException(context, commit_started);
      if (failure.connection_lost) lease->MarkLost();
      if (!(failure.safe_to_retry && failure.connection_lost &&
            lease->reused())) {
        return failure.status;
      }
      last = failure.status;
    }
  }
  return last;
}

std::string Ts(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

absl::Time FromMicros(const pqxx::field& f) {
  return absl::FromUnixMicros(f.as<int64_t>());
}

constexpr char kEpochUs[] = "(extract(epoch FROM %s) * 1000000)::bigint";

std::string EpochUs(absl::string_view column) {
  std::string out = kEpochUs;
  out.replace(out.find("%s"), 2, std::string(column));
  return out;
}

std::optional<DeliveryStatus> ParseDeliveryStatus(absl::string_view s) {
  for (DeliveryStatus d : {DeliveryStatus::kPending, DeliveryStatus::kDelivered,
                           DeliveryStatus::kFailed}) {
    if (DeliveryStatusName(d) == s) return d;
  }
  return std::nullopt;
}

}  // namespace

absl::string_view DeliveryStatusName(DeliveryStatus s) {
  switch (s) {
    case DeliveryStatus::kPending:
      return "pending";
    case DeliveryStatus::kDelivered:
      return "delivered";
    case DeliveryStatus::kFailed:
      return "failed";
  }
  return "pending";
}

WebhookQueue::WebhookQueue(std::unique_ptr<ConnectionPool> pool)
    : pool_(std::move(pool)) {}

WebhookQueue::~WebhookQueue() = default;

absl::StatusOr<std::unique_ptr<WebhookQueue>> WebhookQueue::Open(
    const std::string& url, int pool_size, absl::Duration statement_timeout) {
  absl::StatusOr<bool> has_timeout = ConninfoHasParam(url, "connect_timeout");
  if (!has_timeout.ok()) return has_timeout.status();
  ConnectionPool::Options options;
  options.conninfo =
      *has_timeout ? url
                   : WithConninfoParam(url, "connect_timeout",
                                       absl::StrCat(kConnectTimeoutSeconds));
  options.size = std::max(1, pool_size);
  options.statement_timeout = statement_timeout;
  options.borrow_timeout =
      absl::Seconds(kConnectTimeoutSeconds) + 2 * statement_timeout;
  auto pool = std::make_unique<ConnectionPool>(std::move(options));
  {
    absl::StatusOr<ConnectionPool::Lease> first = pool->Borrow();
    if (!first.ok()) {
      return absl::UnavailableError("webhooks: database unavailable");
    }
  }
  return std::unique_ptr<WebhookQueue>(new WebhookQueue(std::move(pool)));
}

absl::Status WebhookQueue::EnsureCursor(absl::string_view endpoint,
                                        int64_t start_seq) {
  return Run(*pool_, "webhook cursor",
             [&](pqxx::connection_base& conn, bool& commit_started) {
               pqxx::work tx(conn);
               tx.exec_params(
                   "INSERT INTO webhook_cursors (endpoint, last_seq) "
                   "VALUES ($1, $2) ON CONFLICT (endpoint) DO NOTHING",
                   std::string(endpoint), start_seq);
               commit_started = true;
               tx.commit();
               return absl::OkStatus();
             });
}

absl::StatusOr<int64_t> WebhookQueue::Enqueue(absl::string_view endpoint,
                                              const ReadEvents& read) {
  int64_t considered = 0;
  absl::Status s = Run(
      *pool_, "webhook enqueue",
      [&](pqxx::connection_base& conn, bool& commit_started) -> absl::Status {
        pqxx::work tx(conn);
        pqxx::result cursor = tx.exec_params(
            "SELECT last_seq FROM webhook_cursors WHERE endpoint = $1 "
            "FOR UPDATE",
            std::string(endpoint));
        if (cursor.empty()) {
          return absl::FailedPreconditionError(
              absl::StrCat("webhook endpoint ", endpoint, " has no cursor"));
        }
        const int64_t after = cursor[0][0].as<int64_t>();
        absl::StatusOr<EventBatch> batch = read(after);
        if (!batch.ok()) return batch.status();
        if (batch->next_cursor <= after) return absl::OkStatus();
        for (const QueuedEvent& e : batch->events) {
          tx.exec_params(
              "INSERT INTO webhook_deliveries (endpoint, seq, event_type, "
              "approval_id, payload, occurred_at) "
              "VALUES ($1, $2, $3, $4::uuid, $5, $6::timestamptz) "
              "ON CONFLICT (endpoint, seq) DO NOTHING",
              std::string(endpoint), e.seq, e.event_type, e.approval_id,
              e.payload, Ts(e.occurred_at));
        }
        tx.exec_params(
            "UPDATE webhook_cursors SET last_seq = $2 WHERE endpoint = $1",
            std::string(endpoint), batch->next_cursor);
        commit_started = true;
        tx.commit();
        considered = batch->next_cursor - after;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return considered;
}

absl::StatusOr<std::vector<ClaimedDelivery>> WebhookQueue::Claim(
    absl::string_view endpoint, int limit, absl::Duration lease) {
  std::vector<ClaimedDelivery> out;
  absl::Status s = Run(
      *pool_, "webhook claim",
      [&](pqxx::connection_base& conn, bool& commit_started) {
        out.clear();
        pqxx::work tx(conn);
        pqxx::result rows = tx.exec_params(
            "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, "
            " next_attempt_at = now() + $3::bigint * interval '1 microsecond' "
            "FROM (SELECT endpoint, seq FROM webhook_deliveries "
            "      WHERE endpoint = $1 AND status = 'pending' "
            "        AND next_attempt_at <= now() "
            "      ORDER BY next_attempt_at, seq LIMIT $2 "
            "      FOR UPDATE SKIP LOCKED) due "
            "WHERE d.endpoint = due.endpoint AND d.seq = due.seq "
            "RETURNING d.seq, d.payload, d.attempts",
            std::string(endpoint), limit, absl::ToInt64Microseconds(lease));
        commit_started = true;
        tx.commit();
        for (const pqxx::row& r : rows) {
          out.push_back(
              {r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<int>()});
        }
        std::sort(out.begin(), out.end(),
                  [](const ClaimedDelivery& a, const ClaimedDelivery& b) {
                    return a.seq < b.seq;
                  });
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::Status WebhookQueue::Release(absl::string_view endpoint,
                                   const std::vector<int64_t>& seqs) {
  if (seqs.empty()) return absl::OkStatus();
  return Run(*pool_, "webhook release",
             [&](pqxx::connection_base& conn, bool& commit_started) {
               pqxx::work tx(conn);
               for (int64_t seq : seqs) {
                 tx.exec_params(
                     "UPDATE webhook_deliveries SET next_attempt_at = now(), "
                     " attempts = greatest(attempts - 1, 0) "
                     "WHERE endpoint = $1 AND seq = $2 AND status = 'pending'",
                     std::string(endpoint), seq);
               }
               commit_started = true;
               tx.commit();
               return absl::OkStatus();
             });
}

absl::StatusOr<absl::Duration> WebhookQueue::MarkDelivered(
    absl::string_view endpoint, int64_t seq, int http_status) {
  std::optional<absl::Duration> lag;
  absl::Status s =
      Run(*pool_, "webhook delivered",
          [&](pqxx::connection_base& conn, bool& commit_started) {
            pqxx::work tx(conn);
            pqxx::result r = tx.exec_params(
                "UPDATE webhook_deliveries SET status = 'delivered', "
                " delivered_at = clock_timestamp(), last_http_status = $3, "
                " last_error = '' "
                "WHERE endpoint = $1 AND seq = $2 AND status = 'pending' "
                "RETURNING " +
                    EpochUs("clock_timestamp() - occurred_at"),
                std::string(endpoint), seq, http_status);
            commit_started = true;
            tx.commit();
            if (!r.empty()) lag = absl::Microseconds(r[0][0].as<int64_t>());
            return absl::OkStatus();
          });
  if (!s.ok()) return s;
  if (!lag.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("webhook delivery ", seq, " is no longer pending"));
  }
  return *lag;
}

absl::StatusOr<DeliveryStatus> WebhookQueue::MarkAttemptFailed(
    absl::string_view endpoint, int64_t seq, absl::string_view error,
    int http_status, absl::Duration retry_in, absl::Duration horizon) {
  std::string status;
  const std::string trimmed(error.substr(0, kMaxErrorBytes));
  absl::Status s = Run(
      *pool_, "webhook attempt failed",
      [&](pqxx::connection_base& conn, bool& commit_started) {
        pqxx::work tx(conn);
        pqxx::result r = tx.exec_params(
            "UPDATE webhook_deliveries SET "
            " status = CASE WHEN now() + $3::bigint * interval '1 microsecond'"
            "   > enqueued_at + $4::bigint * interval '1 microsecond' "
            "   THEN 'failed' ELSE 'pending' END, "
            " next_attempt_at = now() + $3::bigint * interval '1 microsecond',"
            " last_error = $5, last_http_status = nullif($6, 0) "
            "WHERE endpoint = $1 AND seq = $2 AND status = 'pending' "
            "RETURNING status",
            std::string(endpoint), seq, absl::ToInt64Microseconds(retry_in),
            absl::ToInt64Microseconds(horizon), trimmed, http_status);
        commit_started = true;
        tx.commit();
        if (!r.empty()) status = r[0][0].as<std::string>();
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  if (status.empty()) {
    return absl::NotFoundError(
        absl::StrCat("webhook delivery ", seq, " is no longer pending"));
  }
  return *ParseDeliveryStatus(status);
}

absl::StatusOr<std::optional<absl::Duration>> WebhookQueue::NextDue(
    absl::string_view endpoint) {
  std::optional<absl::Duration> due;
  absl::Status s =
      Run(*pool_, "webhook next due", [&](pqxx::connection_base& conn, bool&) {
        pqxx::nontransaction tx(conn);
        pqxx::row r = tx.exec_params1(
            "SELECT " + EpochUs("min(next_attempt_at) - now()") +
                " FROM webhook_deliveries "
                "WHERE endpoint = $1 AND status = 'pending'",
            std::string(endpoint));
        if (!r[0].is_null()) due = absl::Microseconds(r[0].as<int64_t>());
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return due;
}

absl::StatusOr<DeliveryPage> WebhookQueue::List(const DeliveryListQuery& q) {
  const int limit = std::clamp(q.page_size, 1, kMaxPageSize);
  // Keyset position "<seq>:<endpoint>": rows after it in (seq DESC,
  // endpoint ASC) order.
  int64_t before_seq = std::numeric_limits<int64_t>::max();
  std::string after_endpoint;
  if (!q.page_token.empty()) {
    std::pair<std::string, std::string> parts =
        absl::StrSplit(q.page_token, absl::MaxSplits(':', 1));
    if (!absl::SimpleAtoi(parts.first, &before_seq) || before_seq < 0) {
      return absl::InvalidArgumentError(
          "page_token: not a token this broker handed out");
    }
    after_endpoint = parts.second;
  }
  DeliveryPage page;
  absl::Status s =
      Run(*pool_, "webhook list", [&](pqxx::connection_base& conn, bool&) {
        page.deliveries.clear();
        pqxx::nontransaction tx(conn);
        pqxx::result rows = tx.exec_params(
            "SELECT endpoint, seq, event_type, approval_id::text, status, "
            " attempts, " +
                EpochUs("enqueued_at") + ", " + EpochUs("next_attempt_at") +
                ", " + EpochUs("delivered_at") +
                ", last_error, coalesce(last_http_status, 0) "
                "FROM webhook_deliveries "
                "WHERE ($1 = '' OR endpoint = $1) "
                "  AND ($2 = '' OR status = $2) "
                "  AND (seq < $3 OR (seq = $3 AND endpoint > $4)) "
                "ORDER BY seq DESC, endpoint LIMIT $5",
            q.endpoint,
            q.status ? std::string(DeliveryStatusName(*q.status)) : "",
            before_seq, after_endpoint, limit + 1);
        for (const pqxx::row& r : rows) {
          if (static_cast<int>(page.deliveries.size()) == limit) break;
          DeliveryRecord d;
          d.endpoint = r[0].as<std::string>();
          d.seq = r[1].as<int64_t>();
          d.event_type = r[2].as<std::string>();
          d.approval_id = r[3].as<std::string>();
          d.status = ParseDeliveryStatus(r[4].as<std::string>())
                         .value_or(DeliveryStatus::kPending);
          d.attempts = r[5].as<int>();
          d.enqueued_at = FromMicros(r[6]);
          d.next_attempt_at = FromMicros(r[7]);
          if (!r[8].is_null()) d.delivered_at = FromMicros(r[8]);
          d.last_error = r[9].as<std::string>();
          d.last_http_status = r[10].as<int>();
          page.deliveries.push_back(std::move(d));
        }
        if (static_cast<int>(rows.size()) > limit) {
          const DeliveryRecord& last = page.deliveries.back();
          page.next_page_token = absl::StrCat(last.seq, ":", last.endpoint);
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return page;
}

}  // namespace approval
