// The one strict JSON reader for everything the broker reads: its
// hand-written files (config, policy, tokens file) and what arrives from
// outside (the IdP's JWKS, JWT headers and claims).
#ifndef APPROVAL_SERVER_CONFIG_STRICT_JSON_H_
#define APPROVAL_SERVER_CONFIG_STRICT_JSON_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace approval {

// Whether `//` and `/* */` comments are allowed: in files people write,
// not in documents machines send (RFC 8259 JSON has no comments).
enum class JsonComments { kAllowed, kRefused };

// Parses `text` as JSON. A key repeated in one object is an error: nlohmann
// would silently keep one of the two (and another parser the other), and a
// repeated key is as much a mistake as a misspelt one. INVALID_ARGUMENT
// prefixed with `source` ("<source>: invalid JSON: ...", or
// "<source>: key "k" appears twice"). `source` names the file or field,
// e.g. "tokens file /etc/broker/tokens.json" or "JWT header".
absl::StatusOr<nlohmann::ordered_json> ParseStrictJson(
    absl::string_view text, absl::string_view source,
    JsonComments comments = JsonComments::kAllowed);

// The key a ParseStrictJson error is about when it is a repeated key;
// nullopt for any other status. Lets a caller that must not echo its input
// (a token's claims) name the key but not the parser's excerpt.
std::optional<std::string> RepeatedJsonKey(const absl::Status& status);

// A value as it appeared in the file, for an error message: compact JSON,
// cut at 80 bytes so one bad value cannot flood a log line.
std::string ShowJson(const nlohmann::ordered_json& v);
// ShowJson of a string: quoted and escaped.
std::string QuoteJson(absl::string_view s);

}  // namespace approval

#endif  // APPROVAL_SERVER_CONFIG_STRICT_JSON_H_
