#include "server/service/metrics.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "approval/v1/approval.pb.h"
#include "server/policy/policy.h"

namespace approval {
namespace {

constexpr absl::string_view kOther = "other";

std::shared_ptr<prometheus::Registry> NewRegistry() {
  return std::make_shared<prometheus::Registry>();
}

bool IsStatusCodeName(absl::string_view v) {
  static const auto* const kNames = [] {
    auto* names = new std::set<std::string, std::less<>>;
    for (int c = 0; c <= 16; ++c) {
      names->insert(absl::AsciiStrToLower(
          absl::StatusCodeToString(static_cast<absl::StatusCode>(c))));
    }
    return names;
  }();
  return kNames->count(v) > 0;
}

bool IsMethodName(absl::string_view v) {
  static const auto* const kNames = [] {
    auto* names = new std::set<std::string, std::less<>>;
    const google::protobuf::ServiceDescriptor* service =
        v1::DecisionEvent::descriptor()->file()->FindServiceByName(
            "ApprovalBroker");
    for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
      names->insert(service->method(i)->name());
    }
    return names;
  }();
  return kNames->count(v) > 0;
}

bool IsOneOf(absl::string_view v,
             std::initializer_list<absl::string_view> set) {
  for (absl::string_view s : set) {
    if (v == s) return true;
  }
  return false;
}

// Shaped like the policy's rule names (server/policy/policy.h).
bool IsRuleName(absl::string_view v) {
  if (v.empty() || v.size() > 64) return false;
  for (char c : v) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

// Webhook endpoint names (server/webhook/webhook_config.h).
bool IsEndpointName(absl::string_view v) {
  if (v.empty() || v.size() > 64) return false;
  for (char c : v) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

// Refusal reasons are snake_case words fixed in code ("x509_..." too).
bool IsReason(absl::string_view v) {
  if (v.empty() || v.size() > 64) return false;
  for (char c : v) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

std::string Label(bool valid, absl::string_view v) {
  return std::string(valid ? v : kOther);
}

}  // namespace

BrokerMetrics::BrokerMetrics()
    : registry_(NewRegistry()),
      requests_(prometheus::BuildCounter()
                    .Name("approval_requests_total")
                    .Help("RequestApproval calls by policy rule and outcome")
                    .Register(*registry_)),
      decisions_(prometheus::BuildCounter()
                     .Name("approval_decisions_total")
                     .Help("Reviews recorded, by verdict")
                     .Register(*registry_)),
      self_approvals_refused_(
          prometheus::BuildCounter()
              .Name("approval_self_approvals_refused_total")
              .Help("Decide calls refused because the caller requested the "
                    "approval")
              .Register(*registry_)
              .Add({})),
      refusals_(prometheus::BuildCounter()
                    .Name("approval_refusals_total")
                    .Help("Calls refused as unauthenticated or "
                          "permission_denied, by code and reason")
                    .Register(*registry_)),
      database_errors_(prometheus::BuildCounter()
                           .Name("approval_database_errors_total")
                           .Help("Store operations that failed with a "
                                 "database error (unavailable or internal)")
                           .Register(*registry_)
                           .Add({})),
      pending_(prometheus::BuildGauge()
                   .Name("approval_pending")
                   .Help("Approvals currently pending (all brokers on the "
                         "database)")
                   .Register(*registry_)
                   .Add({})),
      audit_head_seq_(prometheus::BuildGauge()
                          .Name("approval_audit_chain_head_seq")
                          .Help("Seq of the latest audit event whose seal "
                                "this broker verified and logged (\"audit "
                                "chain head\" log line)")
                          .Register(*registry_)
                          .Add({})),
      open_streams_(prometheus::BuildGauge()
                        .Name("approval_decision_streams_open")
                        .Help("StreamDecisions calls open on this broker")
                        .Register(*registry_)
                        .Add({})),
      stream_queued_events_(
          prometheus::BuildGauge()
              .Name("approval_decision_stream_queued_events")
              .Help("Events queued in StreamDecisions calls for their "
                    "readers, all streams together")
              .Register(*registry_)
              .Add({})),
      stream_overflows_(prometheus::BuildCounter()
                            .Name("approval_decision_stream_overflows_total")
                            .Help("Streams ended because they fell more than "
                                  "stream_max_backlog events behind")
                            .Register(*registry_)
                            .Add({})),
      stream_overflow_cancels_(
          prometheus::BuildCounter()
              .Name("approval_decision_stream_overflow_cancels_total")
              .Help("Of those, streams cancelled because their client did not "
                    "take the RESOURCE_EXHAUSTED status within "
                    "stream_overflow_grace")
              .Register(*registry_)
              .Add({})),
      rpc_latency_(prometheus::BuildHistogram()
                       .Name("approval_rpc_duration_seconds")
                       .Help("Unary RPC latency by method and status code")
                       .Register(*registry_)),
      time_to_decision_(prometheus::BuildHistogram()
                            .Name("approval_time_to_decision_seconds")
                            .Help("From request to terminal state, by outcome")
                            .Register(*registry_)),
      reloads_(prometheus::BuildCounter()
                   .Name("approval_reloads_total")
                   .Help("SIGHUP reloads by what (config, policy, auth, tls, "
                         "signing_keys) and result (ok, error: the previous "
                         "one stayed in force)")
                   .Register(*registry_)),
      terminal_cache_lookups_(
          prometheus::BuildCounter()
              .Name("approval_terminal_cache_lookups_total")
              .Help("Lookups in the cache of terminal approvals, by result "
                    "(hit, miss)")
              .Register(*registry_)),
      terminal_cache_hits_(terminal_cache_lookups_.Add({{"result", "hit"}})),
      terminal_cache_misses_(terminal_cache_lookups_.Add({{"result", "miss"}})),
      webhook_deliveries_(prometheus::BuildCounter()
                              .Name("approval_webhook_deliveries_total")
                              .Help("Webhook deliveries that ended, by "
                                    "endpoint and outcome (delivered, "
                                    "failed: past the retry horizon)")
                              .Register(*registry_)),
      webhook_retries_(prometheus::BuildCounter()
                           .Name("approval_webhook_retries_total")
                           .Help("Webhook attempts that failed and will be "
                                 "retried, by endpoint")
                           .Register(*registry_)),
      webhook_lag_(prometheus::BuildHistogram()
                       .Name("approval_webhook_delivery_lag_seconds")
                       .Help("From an event's commit to its webhook's "
                             "successful delivery, by endpoint")
                       .Register(*registry_)) {}

void BrokerMetrics::RecordRequest(absl::string_view rule,
                                  absl::string_view outcome) {
  const bool rule_ok =
      rule == kNoRuleMatched || rule == kInvalidRequestRule || IsRuleName(rule);
  const bool outcome_ok =
      IsOneOf(outcome, {"created", "auto_approved", "auto_denied",
                        "idempotent_replay"}) ||
      IsStatusCodeName(outcome);
  requests_
      .Add({{"rule", Label(rule_ok, rule)},
            {"outcome", Label(outcome_ok, outcome)}})
      .Increment();
}

void BrokerMetrics::RecordDecision(absl::string_view verdict) {
  decisions_
      .Add({{"verdict", Label(IsOneOf(verdict, {"approve", "deny"}), verdict)}})
      .Increment();
}

void BrokerMetrics::RecordSelfApprovalRefused() {
  self_approvals_refused_.Increment();
}

void BrokerMetrics::RecordRefusal(absl::string_view code,
                                  absl::string_view reason) {
  refusals_
      .Add({{"code", Label(IsStatusCodeName(code), code)},
            {"reason", Label(IsReason(reason), reason)}})
      .Increment();
}

void BrokerMetrics::RecordDatabaseError() { database_errors_.Increment(); }

void BrokerMetrics::SetPending(double n) { pending_.Set(n); }

void BrokerMetrics::SetAuditHead(int64_t seq) {
  audit_head_seq_.Set(static_cast<double>(seq));
}

void BrokerMetrics::StreamOpened() { open_streams_.Increment(); }

void BrokerMetrics::StreamClosed() { open_streams_.Decrement(); }

void BrokerMetrics::StreamEventsQueued(double delta) {
  stream_queued_events_.Increment(delta);
}

void BrokerMetrics::RecordStreamOverflow() { stream_overflows_.Increment(); }

void BrokerMetrics::RecordStreamOverflowCancelled() {
  stream_overflow_cancels_.Increment();
}

void BrokerMetrics::ObserveRpc(absl::string_view method, absl::string_view code,
                               double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  rpc_latency_
      .Add({{"method", Label(IsMethodName(method), method)},
            {"code", Label(IsStatusCodeName(code), code)}},
           kBuckets)
      .Observe(seconds);
}

void BrokerMetrics::ObserveTimeToDecision(absl::string_view outcome,
                                          double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400};
  const bool ok =
      IsOneOf(outcome, {"approved", "denied", "expired", "cancelled"});
  time_to_decision_.Add({{"outcome", Label(ok, outcome)}}, kBuckets)
      .Observe(seconds);
}

void BrokerMetrics::RecordReload(absl::string_view what, bool ok) {
  reloads_.Add({{"what", std::string(what)}, {"result", ok ? "ok" : "error"}})
      .Increment();
}

void BrokerMetrics::RecordTerminalCacheLookup(bool hit) {
  (hit ? terminal_cache_hits_ : terminal_cache_misses_).Increment();
}

void BrokerMetrics::RecordWebhookDelivered(absl::string_view endpoint,
                                           absl::Duration lag) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,  1,
      2.5,   5,    10,    30,   60,  300,  1800, 3600};
  const std::string label = Label(IsEndpointName(endpoint), endpoint);
  webhook_deliveries_.Add({{"endpoint", label}, {"outcome", "delivered"}})
      .Increment();
  webhook_lag_.Add({{"endpoint", label}}, kBuckets)
      .Observe(absl::ToDoubleSeconds(lag));
}

void BrokerMetrics::RecordWebhookRetry(absl::string_view endpoint) {
  webhook_retries_
      .Add({{"endpoint", Label(IsEndpointName(endpoint), endpoint)}})
      .Increment();
}

void BrokerMetrics::RecordWebhookFailed(absl::string_view endpoint) {
  webhook_deliveries_
      .Add({{"endpoint", Label(IsEndpointName(endpoint), endpoint)},
            {"outcome", "failed"}})
      .Increment();
}

}  // namespace approval
