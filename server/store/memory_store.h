// MemoryStore: an in-process ApprovalStore for fast unit tests of the logic
// above the store. It keeps the full contract of store.h (atomic changes,
// gap-free hash-chained events, domain rules under one lock) but nothing is
// durable. The commit listener is called under the store's lock, so its
// calls arrive in seq order. Never used by `approval-broker serve`.
#ifndef APPROVAL_SERVER_STORE_MEMORY_STORE_H_
#define APPROVAL_SERVER_STORE_MEMORY_STORE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/domain/token_signer.h"
#include "server/store/store.h"

namespace approval {

class MemoryStore final : public ApprovalStore {
 public:
  // `clock` is the store's "database clock" (tests inject a fake one).
  // `audit_signer` seals the audit events; null: a fresh random key (see
  // audit_signer()).
  explicit MemoryStore(std::function<absl::Time()> clock = absl::Now,
                       std::shared_ptr<const TokenSigner> audit_signer = {});

  // The key that seals this store's audit events.
  const TokenSigner& audit_signer() const { return *signer_; }

  absl::StatusOr<CreateResult> Create(const NewApproval& req) override;
  absl::StatusOr<Approval> Get(const std::string& id) override;
  absl::StatusOr<ApprovalPage> List(const ListQuery& q) override;
  absl::StatusOr<ApprovalEvent> Decide(const DecideInput& in) override;
  absl::StatusOr<ApprovalEvent> Cancel(const std::string& id,
                                       const std::string& actor,
                                       const std::string& reason) override;
  absl::StatusOr<std::vector<ApprovalEvent>> ExpireDue(int limit) override;
  absl::StatusOr<std::vector<ApprovalEvent>> EscalateDue(int limit) override;
  absl::StatusOr<std::vector<ApprovalEvent>> Events(
      const EventQuery& q) override;
  absl::StatusOr<int64_t> LatestCursor() override;
  absl::StatusOr<int64_t> CountPending() override;
  absl::StatusOr<std::vector<AuditEvent>> QueryAudit(
      const AuditQuery& q) override;
  absl::Status Ping() override;

  // Test hook: makes every call fail UNAVAILABLE while set, as an
  // unreachable database would.
  void SetUnavailable(bool unavailable);

 private:
  // Applies `plan` (transition.h) at `now`: stores plan.after and appends
  // its events, adding them to `committed`. Returns the last event (cursor 0
  // when there is none).
  ApprovalEvent Apply(Transition plan, absl::Time now,
                      CommittedEvents& committed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckAvailable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `a` with its evidence (store.h) when it is approved.
  Approval WithEvidence(Approval a) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::function<absl::Time()> clock_;
  const std::shared_ptr<const TokenSigner> signer_;
  mutable absl::Mutex mu_;
  bool unavailable_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Approval> approvals_ ABSL_GUARDED_BY(mu_);
  std::vector<AuditEvent> audit_ ABSL_GUARDED_BY(mu_);
  // Seqs of each approval's events, ascending.
  std::map<std::string, std::vector<int64_t>> seqs_by_approval_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace approval

#endif  // APPROVAL_SERVER_STORE_MEMORY_STORE_H_
