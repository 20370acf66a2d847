// A chain of `n` well-formed audit events (created events of fresh
// approvals), hashed and, with `sealer`, sealed: the starting point tests
// tamper with.
#ifndef APPROVAL_TESTS_SUPPORT_AUDIT_EVENTS_H_
#define APPROVAL_TESTS_SUPPORT_AUDIT_EVENTS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/domain/audit_chain.h"
#include "server/domain/validation.h"

namespace approval::testing {

inline std::vector<AuditEvent> TestChain(int n,
                                         const TokenSigner* sealer = nullptr) {
  std::vector<AuditEvent> out;
  std::string prev = GenesisHash();
  for (int i = 1; i <= n; ++i) {
    AuditEvent e;
    e.seq = i;
    e.approval_id = NewUuid();
    e.type = EventType::kCreated;
    e.actor = "agent-1";
    e.occurred_at = absl::FromUnixMicros(1700000000000000 + i);
    e.details_json = R"({"n":)" + std::to_string(i) + "}";
    e.prev_hash = prev;
    e.hash = ChainHash(prev, e);
    if (sealer != nullptr) SealEvent(*sealer, e);
    prev = e.hash;
    out.push_back(e);
  }
  return out;
}

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_AUDIT_EVENTS_H_
