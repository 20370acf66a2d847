#include "server/store/store.h"

#include "absl/strings/str_cat.h"
#include "server/domain/audit_chain.h"

namespace approval {

absl::StatusOr<int64_t> VerifyAuditChain(ApprovalStore& store) {
  AuditChainVerifier verifier;
  constexpr int kPage = 1000;
  for (;;) {
    absl::StatusOr<std::vector<AuditEvent>> page =
        store.AuditEvents(verifier.last_seq(), kPage);
    if (!page.ok()) return page.status();
    for (const AuditEvent& e : *page) {
      if (absl::Status s = verifier.Next(e); !s.ok()) return s;
    }
    if (static_cast<int>(page->size()) < kPage) break;
  }
  // Events cut off the end leave an intact but shorter chain; the store's
  // own record of the last seq gives that away.
  absl::StatusOr<int64_t> latest = store.LatestCursor();
  if (!latest.ok()) return latest.status();
  if (*latest != verifier.last_seq()) {
    return absl::DataLossError(
        absl::StrCat("audit event ", verifier.last_seq() + 1,
                     ": missing (the chain ends at ", verifier.last_seq(),
                     " but the store recorded ", *latest, " events)"));
  }
  return verifier.verified_count();
}

}  // namespace approval
