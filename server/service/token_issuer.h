// TokenIssuer: approval tokens only for approvals the signed audit chain
// proves (audit_proof.h ProveApproval), never from an approval row's state
// alone: a row anyone with the database credentials could have set.
#ifndef APPROVAL_SERVER_SERVICE_TOKEN_ISSUER_H_
#define APPROVAL_SERVER_SERVICE_TOKEN_ISSUER_H_

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/domain/approval.h"
#include "server/domain/audit_chain.h"
#include "server/domain/token_signer.h"

namespace approval {

// A public key of the approval-token key set and until when it is
// published (InfiniteFuture for the signing key).
struct PublishedKey {
  Ed25519PublicKey key;
  absl::Time verify_until;
};

struct TokenIssuerOptions {
  // The tokens' "iss". Default kDefaultTokenIssuer.
  std::string issuer = kDefaultTokenIssuer;
  // The tokens' "aud"; "" (the default) for none.
  std::string audience;
  // Keys the broker signed with before (rotation overlap). Default: none.
  std::vector<PublishedKey> retired_keys;
};

// The keys an issuer works with at one moment (replaced whole by
// TokenIssuer::Replace).
struct IssuerKeys {
  std::shared_ptr<const TokenSigner> signer;  // never null
  // The audit keys whose signatures prove an approval (the signer's own
  // public key and retired ones).
  AuditKeyring keys;
  TokenIssuerOptions options;

  // The key set that verifies tokens at `now`, as JWKS JSON
  // (wire/approval_token.h ApprovalJwks): the signing key first, then each
  // retired key whose verify_until is after `now`.
  std::string JwksAt(absl::Time now) const;
};

// Thread-safe.
class TokenIssuer final {
 public:
  // `signer` must not be null.
  TokenIssuer(std::shared_ptr<const TokenSigner> signer, AuditKeyring keys,
              TokenIssuerOptions options = {});

  // Signing key rotation (SIGHUP): calls that start from now on sign with
  // `signer` and prove with `keys`; a call already started finishes with
  // the keys it began with. `signer` must not be null.
  void Replace(std::shared_ptr<const TokenSigner> signer, AuditKeyring keys,
               TokenIssuerOptions options);

  // The current keys; one snapshot, consistent across its fields.
  std::shared_ptr<const IssuerKeys> current() const;

  // The token for `a`, which must be approved and carry its evidence.
  // DATA_LOSS naming the approval when its evidence does not prove it (the
  // refusal is logged: it means someone wrote to the database around the
  // broker).
  absl::StatusOr<std::string> TokenFor(const Approval& a) const;

  // current()->JwksAt(now).
  std::string JwksAt(absl::Time now) const { return current()->JwksAt(now); }

 private:
  // Proofs are remembered by a digest of the exact evidence they checked, so
  // a thousand streams on one approval cost one proof (three Ed25519
  // verifications), not a thousand; and by the signing key's id, so that no
  // token signed before a rotation is handed out after it.
  static constexpr size_t kRecentProofs = 4096;

  mutable absl::Mutex mu_;
  std::shared_ptr<const IssuerKeys> current_ ABSL_GUARDED_BY(mu_);
  mutable std::unordered_map<std::string, std::string> recent_
      ABSL_GUARDED_BY(mu_);
  mutable std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_TOKEN_ISSUER_H_
