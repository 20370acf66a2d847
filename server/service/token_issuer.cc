#include "server/service/token_issuer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/domain/audit_proof.h"
#include "server/service/log.h"
#include "wire/canonical.h"

namespace approval {
namespace {

// Everything the proof looks at, framed so that no two evidence sets share
// a digest: lengths before contents.
std::string EvidenceDigest(const Approval& a) {
  std::string framed = absl::StrCat(a.id.size(), ":", a.id, ";");
  for (const AuditEvent& e : a.evidence) {
    for (const std::string* part :
         {&e.approval_id, &e.actor, &e.details_json, &e.prev_hash, &e.hash,
          &e.key_id, &e.signature}) {
      absl::StrAppend(&framed, part->size(), ":", *part, ";");
    }
    absl::StrAppend(&framed, e.seq, ",", static_cast<int>(e.type), ",",
                    absl::ToUnixMicros(e.occurred_at), ";");
  }
  return Sha256(framed);
}

}  // namespace

TokenIssuer::TokenIssuer(const TokenSigner& signer, AuditKeyring keys,
                         TokenIssuerOptions options)
    : signer_(signer), keys_(std::move(keys)), options_(std::move(options)) {}

std::string TokenIssuer::JwksAt(absl::Time now) const {
  std::vector<Ed25519PublicKey> keys = {signer_.public_key()};
  for (const PublishedKey& k : options_.retired_keys) {
    if (now < k.verify_until && k.key.key_id() != signer_.key_id()) {
      keys.push_back(k.key);
    }
  }
  return ApprovalJwks(keys);
}

absl::StatusOr<std::string> TokenIssuer::TokenFor(const Approval& a) const {
  const std::string digest = EvidenceDigest(a);
  {
    absl::MutexLock lock(&mu_);
    if (auto it = recent_.find(digest); it != recent_.end()) return it->second;
  }
  absl::StatusOr<ApprovalClaims> claims = ProveApproval(a, keys_);
  if (!claims.ok()) {
    LogError(Event{"token_not_issued"},
             "no approval token issued: ", claims.status().message());
    return claims.status();
  }
  claims->issuer = options_.issuer;
  claims->audience = options_.audience;
  std::string token = signer_.Sign(*std::move(claims));
  absl::MutexLock lock(&mu_);
  if (recent_.emplace(digest, token).second) {
    order_.push_back(digest);
    if (order_.size() > kRecentProofs) {
      recent_.erase(order_.front());
      order_.pop_front();
    }
  }
  return token;
}

}  // namespace approval
