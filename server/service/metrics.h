// BrokerMetrics: the broker's Prometheus metrics, registered on one registry.
// Thread-safe (prometheus-cpp metrics are atomic; families are guarded by
// the library).
//
// No label ever takes a value a caller chose: each series is a new time
// series held forever, so an agent that could pick label values could grow
// the broker's memory and every scraper's without bound. Label values come
// from closed sets fixed in code (status codes, verdicts, states, refusal
// reasons, this service's method names) or from the operator's policy (rule
// names). Each is checked here, in one place: a value outside its set is
// recorded as "other".
#ifndef APPROVAL_SERVER_SERVICE_METRICS_H_
#define APPROVAL_SERVER_SERVICE_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/webhook/dispatcher.h"

namespace approval {

// The rule label of requests refused before the policy was consulted
// (malformed or over a limit). Not a valid rule name, so never ambiguous.
inline constexpr absl::string_view kInvalidRequestRule = "(invalid)";

class BrokerMetrics final : public WebhookMetrics {
 public:
  BrokerMetrics();

  const std::shared_ptr<prometheus::Registry>& registry() const {
    return registry_;
  }

  // rule: the name of the policy rule the request met (a rule name is
  // [A-Za-z0-9._-], 1-64 bytes), kNoRuleMatched, or kInvalidRequestRule for a
  // request refused before any rule was consulted. outcome: "created",
  // "auto_approved", "auto_denied", "idempotent_replay", or a lower-case
  // status code name ("invalid_argument", ...).
  void RecordRequest(absl::string_view rule, absl::string_view outcome);
  void RecordDecision(absl::string_view verdict);  // "approve" | "deny"
  void RecordSelfApprovalRefused();
  // A call refused as UNAUTHENTICATED or PERMISSION_DENIED. code: the
  // lower-case status code name; reason: the refusal reason (RefusalReason in
  // server/domain/refusal_reason.h), a small fixed set of snake_case labels.
  void RecordRefusal(absl::string_view code, absl::string_view reason);
  void RecordDatabaseError();
  void SetPending(double n);
  // The latest verified audit chain head this broker published.
  void SetAuditHead(int64_t seq);
  void StreamOpened();
  void StreamClosed();
  // Events queued in streams for their readers, across all streams (+delta
  // queued, -delta written or dropped).
  void StreamEventsQueued(double delta);
  // A stream fell more than stream_max_backlog events behind and was ended.
  void RecordStreamOverflow();
  // Such a stream had not delivered its RESOURCE_EXHAUSTED within the grace
  // and was cancelled.
  void RecordStreamOverflowCancelled();
  // method: an approval.v1.ApprovalBroker method name.
  void ObserveRpc(absl::string_view method, absl::string_view code,
                  double seconds);
  // outcome: "approved", "denied", "expired" or "cancelled".
  void ObserveTimeToDecision(absl::string_view outcome, double seconds);
  // A reload (SIGHUP) of one part of the configuration: what is "config"
  // (the config file itself), "policy", "auth" (tokens file, mTLS
  // identities, OIDC), "tls" (server certificate, key, client CA) or
  // "signing_keys"; ok: it took effect, else the previous one stays.
  void RecordReload(absl::string_view what, bool ok);
  // A terminal-approval cache lookup (terminal_cache.h) that hit or missed.
  void RecordTerminalCacheLookup(bool hit);
  // Webhooks (server/webhook/dispatcher.h); endpoint: a configured
  // endpoint's name ([a-z0-9_-], 1-64 bytes).
  void RecordWebhookDelivered(absl::string_view endpoint,
                              absl::Duration lag) override;
  void RecordWebhookRetry(absl::string_view endpoint) override;
  void RecordWebhookFailed(absl::string_view endpoint) override;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Counter& self_approvals_refused_;
  prometheus::Family<prometheus::Counter>& refusals_;
  prometheus::Counter& database_errors_;
  prometheus::Gauge& pending_;
  prometheus::Gauge& audit_head_seq_;
  prometheus::Gauge& open_streams_;
  prometheus::Gauge& stream_queued_events_;
  prometheus::Counter& stream_overflows_;
  prometheus::Counter& stream_overflow_cancels_;
  prometheus::Family<prometheus::Histogram>& rpc_latency_;
  prometheus::Family<prometheus::Histogram>& time_to_decision_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Family<prometheus::Counter>& terminal_cache_lookups_;
  // Its two series, resolved once: lookups are on the read hot path.
  prometheus::Counter& terminal_cache_hits_;
  prometheus::Counter& terminal_cache_misses_;
  prometheus::Family<prometheus::Counter>& webhook_deliveries_;
  prometheus::Family<prometheus::Counter>& webhook_retries_;
  prometheus::Family<prometheus::Histogram>& webhook_lag_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_METRICS_H_
