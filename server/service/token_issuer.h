// TokenIssuer: approval tokens only for approvals the signed audit chain
// proves (audit_proof.h ProveApproval), never from an approval row's state
// alone: a row anyone with the database credentials could have set.
#ifndef APPROVAL_SERVER_SERVICE_TOKEN_ISSUER_H_
#define APPROVAL_SERVER_SERVICE_TOKEN_ISSUER_H_

#include <deque>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/domain/approval.h"
#include "server/domain/audit_chain.h"
#include "server/domain/token_signer.h"

namespace approval {

// Thread-safe. `signer` must outlive the issuer.
class TokenIssuer final {
 public:
  // `keys`: the audit keys whose signatures prove an approval (the signer's
  // own public key and retired ones).
  TokenIssuer(const TokenSigner& signer, AuditKeyring keys);

  // The token for `a`, which must be approved and carry its evidence.
  // DATA_LOSS naming the approval when its evidence does not prove it (the
  // refusal is logged: it means someone wrote to the database around the
  // broker).
  absl::StatusOr<std::string> TokenFor(const Approval& a) const;

  const TokenSigner& signer() const { return signer_; }
  const AuditKeyring& keys() const { return keys_; }

 private:
  // Proofs are remembered by a digest of the exact evidence they checked, so
  // a thousand streams on one approval cost one proof (three Ed25519
  // verifications), not a thousand.
  static constexpr size_t kRecentProofs = 4096;

  const TokenSigner& signer_;
  const AuditKeyring keys_;
  mutable absl::Mutex mu_;
  mutable std::unordered_map<std::string, std::string> recent_
      ABSL_GUARDED_BY(mu_);
  mutable std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_TOKEN_ISSUER_H_
