// Page tokens of ListApprovals and ListAuditEvents, shared by every store.
//
// To clients a token is opaque: they pass back what a response gave them.
// To the broker it is untrusted input that reaches SQL, so it is parsed
// strictly (exact format, no sign or leading zeros, no white space) and its
// numbers are bound-checked before any query runs: a forged token is
// INVALID_ARGUMENT naming page_token, never a database error.
#ifndef APPROVAL_SERVER_STORE_PAGE_TOKEN_H_
#define APPROVAL_SERVER_STORE_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace approval {

// Keyset position of ListApprovals (newest first): the last approval of the
// previous page.
struct ApprovalPagePosition {
  int64_t created_at_us = 0;  // microseconds since the Unix epoch
  std::string id;             // lower-case UUID
};

// "<created_at_us>_<id>".
std::string ApprovalPageToken(absl::Time created_at, absl::string_view id);

// INVALID_ARGUMENT "page_token: ..." unless `token` is exactly what
// ApprovalPageToken writes for a time in 0001-01-01..9999-12-31 (the range
// a google.protobuf.Timestamp may hold) and a lower-case UUID.
absl::StatusOr<ApprovalPagePosition> ParseApprovalPageToken(
    absl::string_view token);

// ListAuditEvents: the seq of the last event of the previous page, decimal.
std::string AuditPageToken(int64_t seq);
// INVALID_ARGUMENT "page_token: ..." unless `token` is a decimal seq in
// [1, 2^63-1] without sign or leading zeros.
absl::StatusOr<int64_t> ParseAuditPageToken(absl::string_view token);

}  // namespace approval

#endif  // APPROVAL_SERVER_STORE_PAGE_TOKEN_H_
