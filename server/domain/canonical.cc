#include "server/domain/canonical.h"

#include <openssl/sha.h>

#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace approval {
namespace {

using Json = nlohmann::json;

// Tracks the keys of every open object while parsing, to refuse duplicates
// and excessive nesting (nlohmann keeps the last duplicate silently).
class DuplicateKeyGuard {
 public:
  bool operator()(int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        keys_.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys_.empty()) keys_.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!keys_.empty() &&
            !keys_.back().insert(parsed.get<std::string>()).second) {
          error_ =
              absl::StrCat("duplicate key \"", parsed.get<std::string>(), "\"");
        }
        break;
      default:
        break;
    }
    if (depth > kMaxJsonDepth && error_.empty()) {
      error_ = absl::StrCat("nested deeper than ", kMaxJsonDepth, " levels");
    }
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  std::vector<std::set<std::string>> keys_;
  std::string error_;
};

}  // namespace

absl::StatusOr<std::string> CanonicalizeJsonObject(absl::string_view text) {
  // nlohmann's lexer takes a NUL byte for the end of the input and would
  // silently drop whatever follows it; a raw NUL is never valid JSON.
  if (size_t nul = text.find('\0'); nul != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: NUL byte at offset ", nul));
  }
  DuplicateKeyGuard guard;
  Json value;
  try {
    value = Json::parse(
        text.begin(), text.end(),
        [&guard](int depth, Json::parse_event_t event, Json& parsed) {
          return guard(depth, event, parsed);
        });
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: ", e.what()));
  }
  if (!guard.error().empty()) {
    return absl::InvalidArgumentError(guard.error());
  }
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be a JSON object, got ", value.type_name()));
  }
  try {
    return value.dump();
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not encodable: ", e.what()));
  }
}

std::string Sha256(absl::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof(out));
}

std::string HexEncode(absl::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::string Sha256Hex(absl::string_view data) {
  return HexEncode(Sha256(data));
}

std::string ActionDigest(absl::string_view action, absl::string_view resource,
                         absl::string_view canonical_parameters) {
  Json doc = Json::object();
  doc["action"] = std::string(action);
  doc["resource"] = std::string(resource);
  doc["parameters"] = Json::parse(canonical_parameters);
  return Sha256Hex(doc.dump());
}

}  // namespace approval
