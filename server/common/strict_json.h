// The one strict JSON parser for everything the broker reads: its
// hand-written files (config, policy, tokens file) and what arrives from
// outside (the IdP's JWKS, JWT headers and claims). json_reader.h reads the
// fields of what it returns.
#ifndef APPROVAL_SERVER_COMMON_STRICT_JSON_H_
#define APPROVAL_SERVER_COMMON_STRICT_JSON_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace approval {

// Whether `//` and `/* */` comments are allowed: in files people write,
// not in documents machines send (RFC 8259 JSON has no comments).
enum class JsonComments { kAllowed, kRefused };

// Whether an error message may quote the document's keys and values. A
// tokens file holds hashes, and a token pasted in the wrong place is a
// secret: kHideSecrets shows a key or string only when it looks like a field
// or role name (ShowJsonKey), and never the parser's excerpt.
enum class JsonSecrecy { kShow, kHideSecrets };

// Parses `text` as JSON. A key repeated in one object is an error: nlohmann
// would silently keep one of the two (and another parser the other), and a
// repeated key is as much a mistake as a misspelt one. INVALID_ARGUMENT
// prefixed with `source` ("<source>: invalid JSON: ...", or
// "<source>: tokens[0].roles: key "roles" appears twice" naming the path of
// the repeated key). `source` names the file or field, e.g.
// "tokens file /etc/broker/tokens.json" or "JWT header". The parser's
// excerpt of the text is never quoted: line and column locate the error.
absl::StatusOr<nlohmann::ordered_json> ParseStrictJson(
    absl::string_view text, absl::string_view source,
    JsonComments comments = JsonComments::kAllowed,
    JsonSecrecy secrecy = JsonSecrecy::kShow);

// The key a ParseStrictJson error is about when it is a repeated key;
// nullopt for any other status. Lets a caller that must not echo its input
// (a token's claims) name the key but not the parser's excerpt.
std::optional<std::string> RepeatedJsonKey(const absl::Status& status);

// A value as it appeared in the file, for an error message: compact JSON,
// cut at 80 bytes so one bad value cannot flood a log line.
std::string ShowJson(const nlohmann::ordered_json& v);
// ShowJson of a string: quoted and escaped.
std::string QuoteJson(absl::string_view s);

// A key as an error may name it in a path: as written with kShow; with
// kHideSecrets only when it is 1-16 bytes of [a-z0-9_], else
// "(not shown: it may be a secret)".
std::string ShowJsonKey(absl::string_view key, JsonSecrecy secrecy);
// A value as an error may show it: ShowJson with kShow; with kHideSecrets a
// string as its quoted ShowJsonKey and anything else as its type
// ("a JSON number").
std::string ShowJsonValue(const nlohmann::ordered_json& v, JsonSecrecy secrecy);

// Paths of keys in error messages: "auth.oidc" + "issuer" is
// "auth.oidc.issuer" ("" + "issuer" is "issuer"); "rules" + 2 is "rules[2]".
std::string JsonPathKey(absl::string_view parent, absl::string_view key);
std::string JsonPathIndex(absl::string_view parent, size_t index);

}  // namespace approval

#endif  // APPROVAL_SERVER_COMMON_STRICT_JSON_H_
