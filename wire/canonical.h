// Canonical JSON and the action digest: the bytes broker, client library and
// approvalctl must agree on. Pure functions: no I/O, thread-safe.
//
// Canonical JSON: keys sorted by their UTF-8 bytes, no insignificant white
// space, strings with the minimal escapes of RFC 8259, integers in decimal,
// other numbers in their shortest round-trip decimal form. Duplicate keys are
// refused, because two parsers could keep different values of them.
//
// Numbers are never silently changed: a number is accepted only if its
// canonical form has exactly the value written, so two different numbers can
// never share a canonical form (nor an action digest, nor a preview).
//   - An integer (no fraction, no exponent) in [-2^63, 2^64-1] is kept as
//     that integer. "-0" is refused (its canonical form 0 loses the sign).
//   - Any other number is read as the nearest IEEE-754 double and written in
//     the shortest form that reads back as it; it is accepted only if that
//     form is numerically equal to the text: 0.1, 1.5e3 (-> 1500.0) and
//     -0.0 are kept; 18446744073709551616 (2^64), 0.10000000000000000001,
//     1e400 (infinite) and 1e-400 (underflows to 0) are refused.
#ifndef APPROVAL_WIRE_CANONICAL_H_
#define APPROVAL_WIRE_CANONICAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
// The digests are SHA-256 (Sha256Hex, HexEncode); included for callers that
// compare or print them.
#include "wire/sha256.h"

namespace approval {

// Maximum nesting depth accepted in parameters.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text` as a JSON object and returns its canonical encoding.
// INVALID_ARGUMENT, with a message naming the problem, if `text` is not JSON,
// not an object, nests deeper than kMaxJsonDepth, repeats a key or holds a
// number that cannot be kept exactly. `name` (e.g. "parameters") prefixes
// messages and JSON paths: "parameters.amount: number 18446744073709551616
// cannot be represented exactly (...)"; without it paths start at the root
// ("amount: ...").
absl::StatusOr<std::string> CanonicalizeJsonObject(absl::string_view text,
                                                   absl::string_view name = "");

// The action digest: lower-case hex SHA-256 over the canonical JSON of
// {"action": action, "parameters": <parameters>, "resource": resource}.
// `canonical_parameters` must come from CanonicalizeJsonObject.
std::string ActionDigest(absl::string_view action, absl::string_view resource,
                         absl::string_view canonical_parameters);

}  // namespace approval

#endif  // APPROVAL_WIRE_CANONICAL_H_
