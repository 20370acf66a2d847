// base64url without padding (RFC 4648 section 5, as JOSE uses it: RFC 7515
// section 2), the encoding of approval tokens and JWS parts. Pure functions:
// no I/O, thread-safe.
#ifndef APPROVAL_WIRE_BASE64URL_H_
#define APPROVAL_WIRE_BASE64URL_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace approval {

// Strict decoding: nullopt on padding, any character outside [A-Za-z0-9_-],
// an impossible length or non-zero unused bits, so that every value has
// exactly one encoding (the one Base64UrlEncode writes). "" decodes to "".
std::optional<std::string> Base64UrlDecode(absl::string_view in);

// `in` as base64url without padding.
std::string Base64UrlEncode(absl::string_view in);

}  // namespace approval

#endif  // APPROVAL_WIRE_BASE64URL_H_
