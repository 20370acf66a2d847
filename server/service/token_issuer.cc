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

std::string IssuerKeys::JwksAt(absl::Time now) const {
  std::vector<Ed25519PublicKey> published = {signer->public_key()};
  for (const PublishedKey& k : options.retired_keys) {
    if (now < k.verify_until && k.key.key_id() != signer->key_id()) {
      published.push_back(k.key);
    }
  }
  return ApprovalJwks(published);
}

TokenIssuer::TokenIssuer(std::shared_ptr<const TokenSigner> signer,
                         AuditKeyring keys, TokenIssuerOptions options) {
  Replace(std::move(signer), std::move(keys), std::move(options));
}

void TokenIssuer::Replace(std::shared_ptr<const TokenSigner> signer,
                          AuditKeyring keys, TokenIssuerOptions options) {
  auto next = std::make_shared<const IssuerKeys>(
      IssuerKeys{std::move(signer), std::move(keys), std::move(options)});
  absl::MutexLock lock(&mu_);
  current_ = std::move(next);
  recent_.clear();
  order_.clear();
}

std::shared_ptr<const IssuerKeys> TokenIssuer::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<std::string> TokenIssuer::TokenFor(const Approval& a) const {
  const std::shared_ptr<const IssuerKeys> k = current();
  const std::string digest =
      absl::StrCat(k->signer->key_id(), ":", EvidenceDigest(a));
  {
    absl::MutexLock lock(&mu_);
    if (auto it = recent_.find(digest); it != recent_.end()) return it->second;
  }
  absl::StatusOr<ApprovalClaims> claims = ProveApproval(a, k->keys);
  if (!claims.ok()) {
    LogError(Event{"token_not_issued"},
             "no approval token issued: ", claims.status().message());
    return claims.status();
  }
  claims->issuer = k->options.issuer;
  claims->audience = k->options.audience;
  std::string token = k->signer->Sign(*std::move(claims));
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
