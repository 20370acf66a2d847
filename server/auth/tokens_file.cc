#include "server/auth/tokens_file.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/auth/auth_config.h"
#include "server/common/json_reader.h"
#include "server/common/read_file.h"

namespace approval {
namespace {

using Json = JsonReader::Json;

bool IsLowerHexSha256(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

// One entry of "tokens"; `index_by_hash` finds a hash listed twice.
absl::Status ReadEntry(const JsonReader& r, size_t index, const Json& item,
                       const std::string& path,
                       std::map<std::string, size_t>& index_by_hash,
                       TokensBySha256& tokens) {
  std::string sha256;
  TokenEntry entry;
  if (absl::Status s = r.Object(item, path,
                                {{"sha256", r.String(&sha256)},
                                 {"identity", r.String(&entry.identity)},
                                 {"roles", ReadRoles(r, &entry.roles)}});
      !s.ok()) {
    return s;
  }
  // The hash is never echoed: someone may have pasted the token itself.
  if (!IsLowerHexSha256(sha256)) {
    return r.Error(JsonPathKey(path, "sha256"),
                   "expected the SHA-256 of the token as 64 lower-case hex "
                   "digits (never the token itself)");
  }
  if (entry.identity.empty()) {
    return r.Error(JsonPathKey(path, "identity"),
                   "expected a non-empty string");
  }
  if (entry.roles.empty()) {
    return r.Error(JsonPathKey(path, "roles"), "no roles");
  }
  if (auto [it, inserted] = index_by_hash.emplace(sha256, index); !inserted) {
    return r.Error(JsonPathKey(path, "sha256"),
                   absl::StrCat("same hash as tokens[", it->second, "]"));
  }
  tokens.emplace(std::move(sha256), std::move(entry));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TokensBySha256> ParseTokensFile(absl::string_view text,
                                               absl::string_view source) {
  const JsonReader r(source, JsonSecrecy::kHideSecrets);
  absl::StatusOr<Json> root = r.Parse(text);
  if (!root.ok()) return root.status();
  TokensBySha256 tokens;
  std::map<std::string, size_t> index_by_hash;
  const JsonReader::Read read_tokens = [&](const Json& v,
                                           const std::string& path) {
    return r.Array(v, path, "an array of token entries",
                   [&](size_t i, const Json& item, const std::string& at) {
                     return ReadEntry(r, i, item, at, index_by_hash, tokens);
                   });
  };
  if (absl::Status s =
          r.Object(*root, "", {{"tokens", read_tokens, /*required=*/true}});
      !s.ok()) {
    return s;
  }
  return tokens;
}

absl::StatusOr<TokensBySha256> LoadTokensFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseTokensFile(*text, absl::StrCat("tokens file ", path));
}

}  // namespace approval
