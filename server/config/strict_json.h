// Parsing the broker's hand-written JSON files (config, policy) strictly.
#ifndef APPROVAL_SERVER_CONFIG_STRICT_JSON_H_
#define APPROVAL_SERVER_CONFIG_STRICT_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace approval {

// Parses `text` as JSON with `//` and `/* */` comments. A key repeated in
// one object is an error: nlohmann would silently keep one of the two, and a
// repeated key is as much a mistake as a misspelt one. INVALID_ARGUMENT
// prefixed with `source` ("<source>: invalid JSON: ...", or
// "<source>: key "k" appears twice").
absl::StatusOr<nlohmann::ordered_json> ParseStrictJson(
    absl::string_view text, absl::string_view source);

// A value as it appeared in the file, for an error message: compact JSON,
// cut at 80 bytes so one bad value cannot flood a log line.
std::string ShowJson(const nlohmann::ordered_json& v);
// ShowJson of a string: quoted and escaped.
std::string QuoteJson(absl::string_view s);

}  // namespace approval

#endif  // APPROVAL_SERVER_CONFIG_STRICT_JSON_H_
