// What text a request may carry. Pure functions: no I/O, thread-safe.
//
// Text is never silently changed: PostgreSQL text cannot hold a NUL byte
// (libpq would cut the value there), so a value holding one is refused,
// never stored cut. Names, ids and tokens hold no control character at all;
// free text written for people may (tools that display it escape them, as
// approvalctl does).
#ifndef APPROVAL_SERVER_DOMAIN_TEXT_H_
#define APPROVAL_SERVER_DOMAIN_TEXT_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace approval {

enum class TextKind {
  // Names, ids, tokens, filters: no control character at all.
  kSingleLine,
  // Free text written for people (justification, comment, reason, the
  // parameters JSON): any character but NUL.
  kMultiLine,
};

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view s);

// OK when `value` is valid UTF-8, holds no NUL byte and, for kSingleLine,
// no control character (U+0001-U+001F, U+007F). Otherwise INVALID_ARGUMENT
// naming `field` and the first offending byte and offset, e.g.
// `justification: holds a NUL byte at offset 5; text may not contain NUL
// bytes`.
absl::Status CheckText(absl::string_view field, absl::string_view value,
                       TextKind kind);

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_TEXT_H_
