// What text a request may carry. Pure functions: no I/O, thread-safe.
//
// Text is never silently changed: PostgreSQL text cannot hold a NUL byte
// (libpq would cut the value there), and a control character can rewrite
// what a reviewer's terminal shows. So a value holding either is refused,
// never stored altered.
#ifndef APPROVAL_SERVER_DOMAIN_TEXT_H_
#define APPROVAL_SERVER_DOMAIN_TEXT_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace approval {

enum class TextKind {
  // Names, ids, tokens, filters: no control character at all.
  kSingleLine,
  // Free text written for people (justification, comment, reason, the
  // parameters JSON): also tab, line feed and carriage return.
  kMultiLine,
};

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view s);

// OK when `value` is valid UTF-8 and holds no NUL byte and no control
// character (U+0000-U+001F, U+007F) that `kind` does not allow. Otherwise
// INVALID_ARGUMENT naming `field` and the first offending byte and offset,
// e.g. `justification: holds a NUL byte at offset 5; text may not contain
// NUL bytes`.
absl::Status CheckText(absl::string_view field, absl::string_view value,
                       TextKind kind);

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_TEXT_H_
