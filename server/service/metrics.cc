#include "server/service/metrics.h"

namespace approval {
namespace {

std::shared_ptr<prometheus::Registry> NewRegistry() {
  return std::make_shared<prometheus::Registry>();
}

}  // namespace

BrokerMetrics::BrokerMetrics()
    : registry_(NewRegistry()),
      requests_(prometheus::BuildCounter()
                    .Name("approval_requests_total")
                    .Help("RequestApproval calls by action and outcome")
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
      rpc_latency_(prometheus::BuildHistogram()
                       .Name("approval_rpc_duration_seconds")
                       .Help("Unary RPC latency by method and status code")
                       .Register(*registry_)),
      time_to_decision_(prometheus::BuildHistogram()
                            .Name("approval_time_to_decision_seconds")
                            .Help("From request to terminal state, by outcome")
                            .Register(*registry_)),
      policy_reloads_(prometheus::BuildCounter()
                          .Name("approval_policy_reloads_total")
                          .Help("Policy reloads by result (ok, error: the "
                                "previous policy stayed in force)")
                          .Register(*registry_)) {}

void BrokerMetrics::RecordRequest(absl::string_view action,
                                  absl::string_view outcome) {
  requests_
      .Add({{"action", std::string(action)}, {"outcome", std::string(outcome)}})
      .Increment();
}

void BrokerMetrics::RecordDecision(absl::string_view verdict) {
  decisions_.Add({{"verdict", std::string(verdict)}}).Increment();
}

void BrokerMetrics::RecordSelfApprovalRefused() {
  self_approvals_refused_.Increment();
}

void BrokerMetrics::RecordRefusal(absl::string_view code,
                                  absl::string_view reason) {
  refusals_.Add({{"code", std::string(code)}, {"reason", std::string(reason)}})
      .Increment();
}

void BrokerMetrics::RecordDatabaseError() { database_errors_.Increment(); }

void BrokerMetrics::SetPending(double n) { pending_.Set(n); }

void BrokerMetrics::SetAuditHead(int64_t seq) {
  audit_head_seq_.Set(static_cast<double>(seq));
}

void BrokerMetrics::StreamOpened() { open_streams_.Increment(); }

void BrokerMetrics::StreamClosed() { open_streams_.Decrement(); }

void BrokerMetrics::ObserveRpc(absl::string_view method, absl::string_view code,
                               double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  rpc_latency_
      .Add({{"method", std::string(method)}, {"code", std::string(code)}},
           kBuckets)
      .Observe(seconds);
}

void BrokerMetrics::ObserveTimeToDecision(absl::string_view outcome,
                                          double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400};
  time_to_decision_.Add({{"outcome", std::string(outcome)}}, kBuckets)
      .Observe(seconds);
}

void BrokerMetrics::RecordPolicyReload(bool ok) {
  policy_reloads_.Add({{"result", ok ? "ok" : "error"}}).Increment();
}

}  // namespace approval
