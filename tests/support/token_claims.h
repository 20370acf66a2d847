// The approval claims the token tests sign and verify: one fixed approval,
// shared by the signer's tests (tests/domain) and the verifier's
// (tests/wire); and the one token forgery the client and approvalctl tests
// try.
#ifndef APPROVAL_TESTS_SUPPORT_TOKEN_CLAIMS_H_
#define APPROVAL_TESTS_SUPPORT_TOKEN_CLAIMS_H_

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
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
  c.issuer = "approval-broker";
  return c;
}

// `token` (a compact JWS) with its claims' approvers replaced and the header
// and signature kept: a forgery every verifier must refuse. "" when `token`
// is not three parts with base64url JSON claims.
inline std::string TokenWithApprovers(
    const std::string& token, const std::vector<std::string>& approvers) {
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  std::string payload;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload)) {
    return "";
  }
  nlohmann::ordered_json claims = nlohmann::ordered_json::parse(
      payload, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object()) return "";
  claims["approvers"] = approvers;
  return absl::StrCat(parts[0], ".", absl::WebSafeBase64Escape(claims.dump()),
                      ".", parts[2]);
}

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_TOKEN_CLAIMS_H_
