#include "server/store/store.h"

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
  return verifier.verified_count();
}

}  // namespace approval
