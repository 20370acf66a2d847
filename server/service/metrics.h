// BrokerMetrics: the broker's Prometheus metrics, registered on one registry.
// Thread-safe (prometheus-cpp metrics are atomic; families are guarded by
// the library).
#ifndef APPROVAL_SERVER_SERVICE_METRICS_H_
#define APPROVAL_SERVER_SERVICE_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace approval {

class BrokerMetrics final {
 public:
  BrokerMetrics();

  const std::shared_ptr<prometheus::Registry>& registry() const {
    return registry_;
  }

  // outcome: "created", "idempotent_replay", or a lower-case status code
  // name ("invalid_argument", ...).
  void RecordRequest(absl::string_view action, absl::string_view outcome);
  void RecordDecision(absl::string_view verdict);  // "approve" | "deny"
  void RecordSelfApprovalRefused();
  // A call refused as UNAUTHENTICATED or PERMISSION_DENIED. code: the
  // lower-case status code name; reason: the refusal reason (RefusalReason in
  // server/domain/rules.h), a small fixed set of snake_case labels.
  void RecordRefusal(absl::string_view code, absl::string_view reason);
  void RecordDatabaseError();
  void SetPending(double n);
  // The latest verified audit chain head this broker published.
  void SetAuditHead(int64_t seq);
  void StreamOpened();
  void StreamClosed();
  void ObserveRpc(absl::string_view method, absl::string_view code,
                  double seconds);
  void ObserveTimeToDecision(absl::string_view outcome, double seconds);
  // A policy reload (SIGHUP) that took effect, or failed and kept the
  // previous policy.
  void RecordPolicyReload(bool ok);

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
  prometheus::Family<prometheus::Histogram>& rpc_latency_;
  prometheus::Family<prometheus::Histogram>& time_to_decision_;
  prometheus::Family<prometheus::Counter>& policy_reloads_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_METRICS_H_
