// Canonical encodings and digests. Pure functions: no I/O, thread-safe.
//
// Canonical JSON: keys sorted by their UTF-8 bytes, no insignificant white
// space, strings with the minimal escapes of RFC 8259, integers in decimal,
// other numbers in their shortest round-trip decimal form. Duplicate keys are
// refused, because two parsers could keep different values of them.
#ifndef APPROVAL_SERVER_DOMAIN_CANONICAL_H_
#define APPROVAL_SERVER_DOMAIN_CANONICAL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace approval {

// Maximum nesting depth accepted in parameters.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text` as a JSON object and returns its canonical encoding.
// INVALID_ARGUMENT, with a message naming the problem, if `text` is not JSON,
// not an object, nests deeper than kMaxJsonDepth or repeats a key.
absl::StatusOr<std::string> CanonicalizeJsonObject(absl::string_view text);

// SHA-256 of `data`: 32 raw bytes, or 64 lower-case hex characters.
std::string Sha256(absl::string_view data);
std::string Sha256Hex(absl::string_view data);
std::string HexEncode(absl::string_view raw);

// The action digest: lower-case hex SHA-256 over the canonical JSON of
// {"action": action, "parameters": <parameters>, "resource": resource}.
// `canonical_parameters` must come from CanonicalizeJsonObject.
std::string ActionDigest(absl::string_view action, absl::string_view resource,
                         absl::string_view canonical_parameters);

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_CANONICAL_H_
