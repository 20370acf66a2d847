// SHA-256 and lower-case hex. Pure functions: no I/O, thread-safe.
#ifndef APPROVAL_WIRE_SHA256_H_
#define APPROVAL_WIRE_SHA256_H_

#include <string>

#include "absl/strings/string_view.h"

namespace approval {

// SHA-256 of `data`: 32 raw bytes.
std::string Sha256(absl::string_view data);
// SHA-256 of `data`: 64 lower-case hex characters.
std::string Sha256Hex(absl::string_view data);
// `raw` as lower-case hex, two characters a byte.
std::string HexEncode(absl::string_view raw);

}  // namespace approval

#endif  // APPROVAL_WIRE_SHA256_H_
