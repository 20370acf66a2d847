// The approval claims the token tests sign and verify: one fixed approval,
// shared by the signer's tests (tests/domain) and the verifier's
// (tests/wire).
#ifndef APPROVAL_TESTS_SUPPORT_TOKEN_CLAIMS_H_
#define APPROVAL_TESTS_SUPPORT_TOKEN_CLAIMS_H_

#include <string>

#include "absl/time/time.h"
#include "wire/approval_token.h"

namespace approval::testing {

inline const absl::Time kSampleApprovedAt =
    absl::FromUnixMicros(1790000000123456);

// Approvers deliberately out of order: the signer sorts them. No key id:
// the signer sets its own.
inline ApprovalClaims SampleApprovalClaims() {
  ApprovalClaims c;
  c.approval_id = "0b7a5f2e-8a44-4c3e-9f7e-2a2b4f1d3c5e";
  c.action = "db.export";
  c.action_digest = std::string(64, 'a');
  c.approvers = {"bob", "alice"};
  c.rule = "customer-export";
  c.approved_at = kSampleApprovedAt;
  c.not_before = kSampleApprovedAt;
  c.not_after = kSampleApprovedAt + absl::Minutes(15);
  return c;
}

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_TOKEN_CLAIMS_H_
