#include "tools/approvalctl/exit_codes.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace approval::ctl {
namespace {

struct Meaning {
  ExitCode code;
  const char* text;
};

constexpr Meaning kMeanings[] = {
    {ExitCode::kOk, "success"},
    {ExitCode::kError, "any other error"},
    {ExitCode::kUsage, "invalid usage (bad flags or arguments, malformed id)"},
    {ExitCode::kNotFound, "approval not found (or not visible to you)"},
    {ExitCode::kUnauthenticated,
     "not authenticated (missing or unknown token or certificate)"},
    {ExitCode::kPermissionDenied,
     "permission denied (missing role; you requested this approval)"},
    {ExitCode::kFailedPrecondition,
     "approval already decided, cancelled or expired"},
    {ExitCode::kUnavailable, "broker unreachable or unavailable; retry later"},
    {ExitCode::kTimeout, "no answer within --timeout"},
    {ExitCode::kAuditBroken, "audit verify: the audit hash chain is broken"},
    {ExitCode::kNotApproved,
     "watch ID...: an approval ended denied, expired or cancelled"},
    {ExitCode::kTokenInvalid,
     "token verify: the token does not verify, or not now (outside its "
     "window)"},
    {ExitCode::kAlreadyReviewed,
     "approve, deny: you already reviewed this approval (each person counts "
     "once)"},
};

}  // namespace

ExitCode ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return ExitCode::kOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return ExitCode::kUsage;
    case absl::StatusCode::kNotFound:
      return ExitCode::kNotFound;
    case absl::StatusCode::kUnauthenticated:
      return ExitCode::kUnauthenticated;
    case absl::StatusCode::kPermissionDenied:
      return ExitCode::kPermissionDenied;
    case absl::StatusCode::kFailedPrecondition:
      return ExitCode::kFailedPrecondition;
    case absl::StatusCode::kUnavailable:
      return ExitCode::kUnavailable;
    case absl::StatusCode::kDeadlineExceeded:
      return ExitCode::kTimeout;
    case absl::StatusCode::kAlreadyExists:
      // Decide's only ALREADY_EXISTS: a second review by the same person.
      return ExitCode::kAlreadyReviewed;
    default:
      return ExitCode::kError;
  }
}

std::string ExitCodeTable() {
  std::string out;
  for (const Meaning& m : kMeanings) {
    absl::StrAppend(
        &out, absl::StrFormat("  %2d  %s\n", static_cast<int>(m.code), m.text));
  }
  return out;
}

}  // namespace approval::ctl
