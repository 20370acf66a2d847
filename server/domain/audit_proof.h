// What the signed audit chain says about approvals, independent of the
// approvals and reviews tables (which anyone holding the database
// credentials can rewrite).
//
// ProveApproval derives an approval token's claims from an approval's own
// signed audit events; AuditReplay rebuilds every approval's state from the
// chain and names the rows that disagree. Pure functions over values.
#ifndef APPROVAL_SERVER_DOMAIN_AUDIT_PROOF_H_
#define APPROVAL_SERVER_DOMAIN_AUDIT_PROOF_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/domain/approval.h"
#include "server/domain/audit_chain.h"
#include "wire/approval_token.h"

namespace approval {

// The claims of the approval token for `a`, taken only from a.evidence:
// its created event (action, digest, rule, execution window), its approved
// event (time, approvers) and, unless a rule approved it by itself, one
// approve review event per approver, at least approvals_required of them.
// Every one of those events must hash to its own hash and carry a signature
// by a key in `keys`. DATA_LOSS naming the approval and what is missing or
// forged otherwise (also when a.state is not kApproved). key_id is left for
// the signer to fill.
absl::StatusOr<ApprovalClaims> ProveApproval(const Approval& a,
                                             const AuditKeyring& keys);

// Replays audit events (feed them in seq order, after the chain itself has
// verified) into the state each approval must have, and compares rows with
// it. Not thread-safe.
class AuditReplay final {
 public:
  // Applies one event. A problem (an event for an approval that was never
  // created, an event after the approval ended) is recorded, not returned.
  void Apply(const AuditEvent& e);

  // Compares a stored approval (with its reviews) with the replayed one;
  // records a problem naming the approval and each field that differs.
  void Check(const Approval& row);
  // Records approvals the chain created but Check never saw. Call once,
  // after every row was checked.
  void CheckNoneMissing();

  const std::vector<std::string>& problems() const { return problems_; }
  int64_t approvals_checked() const { return checked_; }

 private:
  struct Replayed {
    State state = State::kPending;
    std::string requester;
    std::string action_digest;
    std::optional<absl::Time> expires_at;
    std::optional<absl::Time> decided_at;
    std::optional<absl::Time> escalated_at;
    std::string decided_by;
    std::string decision_comment;
    std::vector<Review> reviews;
    bool seen_row = false;
  };
  void Problem(std::string p);

  std::map<std::string, Replayed> approvals_;
  std::vector<std::string> problems_;
  int64_t checked_ = 0;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_AUDIT_PROOF_H_
