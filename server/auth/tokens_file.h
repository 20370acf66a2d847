// The tokens file: bearer tokens known by their SHA-256 (format in
// authenticator.h). Read through the strict JSON reader with
// JsonSecrecy::kHideSecrets: no error quotes a hash, or a token pasted where
// a hash, key or role belongs.
#ifndef APPROVAL_SERVER_AUTH_TOKENS_FILE_H_
#define APPROVAL_SERVER_AUTH_TOKENS_FILE_H_

#include <functional>
#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/auth/principal.h"

namespace approval {

// One token's caller.
struct TokenEntry {
  std::string identity;
  std::set<Role> roles;
};

// Keyed by the lower-case hex SHA-256 of the token.
using TokensBySha256 = std::map<std::string, TokenEntry, std::less<>>;

// Parses a tokens file's `text`; `source` prefixes every error
// ("tokens file <path>"). INVALID_ARGUMENT naming the path of the key on bad
// JSON, a repeated or unknown key, a wrong type, a hash that is not 64
// lower-case hex digits, a repeated hash, an empty identity, no roles or an
// unknown role.
absl::StatusOr<TokensBySha256> ParseTokensFile(absl::string_view text,
                                               absl::string_view source);

// Reads the file at `path` and parses it. NOT_FOUND / PERMISSION_DENIED
// (from errno) when it cannot be read; else as ParseTokensFile.
absl::StatusOr<TokensBySha256> LoadTokensFile(const std::string& path);

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_TOKENS_FILE_H_
