// Approval tokens: the broker's Ed25519 signature over what was approved.
//
// A token is "<payload>.<signature>", both base64url without padding. The
// payload is the canonical JSON of ApprovalClaims (keys: action,
// action_digest, approval_id, approved_at, approvers, key_id, not_after,
// not_before, rule, v); the signature is Ed25519 (through OpenSSL) over the
// payload's JSON bytes. Ed25519 is deterministic: signing the same claims
// with the same key gives the same token.
//
// This file is the token's format and its verification, shared by the
// broker, the client library and approvalctl; signing is the broker's
// (server/domain/token_signer.h). Pure functions, thread-safe.
#ifndef APPROVAL_WIRE_APPROVAL_TOKEN_H_
#define APPROVAL_WIRE_APPROVAL_TOKEN_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "wire/ed25519.h"

namespace approval {

inline constexpr int kApprovalTokenVersion = 1;

struct ApprovalClaims {
  std::string approval_id;
  std::string action;
  std::string action_digest;  // lower-case hex SHA-256 (wire/canonical.h)
  // Canonical principals who approved, sorted; empty when a rule
  // auto-approved.
  std::vector<std::string> approvers;
  std::string rule;  // the policy rule that applied
  absl::Time approved_at;
  // Execution is allowed in [not_before, not_after).
  absl::Time not_before;
  absl::Time not_after;
  std::string key_id;  // which broker key signed it
  int version = kApprovalTokenVersion;
};

// The payload bytes a token carries for `claims`, which the signature
// covers: canonical JSON, times as RFC 3339 UTC with six fraction digits.
// `claims.approvers` must be sorted (a token with unsorted approvers never
// verifies).
std::string ApprovalTokenPayload(const ApprovalClaims& claims);

// The token of a payload and its 64-byte Ed25519 signature.
std::string ApprovalTokenOf(absl::string_view payload,
                            absl::string_view signature);

// Verifies `token` against `public_key_pem` (SubjectPublicKeyInfo PEM) and
// returns its claims. INVALID_ARGUMENT when the PEM is not an Ed25519
// public key; UNAUTHENTICATED with a message saying what failed (malformed
// token, wrong key id, bad signature, unknown version, claims not as
// specified). Does not look at the time window or the digest: see
// CheckClaims.
absl::StatusOr<ApprovalClaims> VerifyApprovalToken(
    absl::string_view token, absl::string_view public_key_pem);

// OK when `claims` approve exactly `action_digest` (and `approval_id`, unless
// empty) at `now`: PERMISSION_DENIED naming the mismatch, or
// FAILED_PRECONDITION when now is outside [not_before, not_after).
absl::Status CheckClaims(const ApprovalClaims& claims,
                         absl::string_view action_digest,
                         absl::string_view approval_id, absl::Time now);

}  // namespace approval

#endif  // APPROVAL_WIRE_APPROVAL_TOKEN_H_
