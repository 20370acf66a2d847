// approvalctl's exit codes: one per thing a script would do differently.
#ifndef APPROVAL_TOOLS_APPROVALCTL_EXIT_CODES_H_
#define APPROVAL_TOOLS_APPROVALCTL_EXIT_CODES_H_

#include <string>

#include "absl/status/status.h"

namespace approval::ctl {

enum class ExitCode : int {
  kOk = 0,
  kError = 1,             // anything not listed below (INTERNAL, UNKNOWN, ...)
  kUsage = 2,             // bad command line, or INVALID_ARGUMENT
  kNotFound = 3,          // no such approval (or not visible to the caller)
  kUnauthenticated = 4,   // missing or unknown token / certificate
  kPermissionDenied = 5,  // role missing, or self-approval refused
  kFailedPrecondition = 6,  // already decided, cancelled or expired
  kUnavailable = 7,         // broker or its database unreachable: retry
  kTimeout = 8,             // no answer within --timeout
  kAuditBroken = 9,         // audit verify: the hash chain is broken
  kNotApproved = 10,        // watch ID...: one ended DENIED/EXPIRED/CANCELLED
  kTokenInvalid = 11,       // token verify: does not verify or out of window
  kAlreadyReviewed = 12,    // approve/deny: you already reviewed it
};

// The exit code for a failed command; kOk for an OK status.
ExitCode ExitCodeFor(const absl::Status& status);

// The table of exit codes for --help, one "  N  meaning" line each.
std::string ExitCodeTable();

}  // namespace approval::ctl

#endif  // APPROVAL_TOOLS_APPROVALCTL_EXIT_CODES_H_
