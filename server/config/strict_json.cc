#include "server/config/strict_json.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace approval {
namespace {

constexpr absl::string_view kRepeatedKeyUrl =
    "type.approval.broker/json_repeated_key";

}  // namespace

std::string ShowJson(const nlohmann::ordered_json& v) {
  std::string s =
      v.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  constexpr size_t kMax = 80;
  if (s.size() > kMax) s = absl::StrCat(s.substr(0, kMax), "...");
  return s;
}

std::string QuoteJson(absl::string_view s) {
  return ShowJson(nlohmann::ordered_json(std::string(s)));
}

namespace {

std::string WithoutExcerpt(absl::string_view message) {
  // nlohmann quotes the text it read last ("; last read: '...'", then what
  // it expected): a tokens file's hash, or a secret pasted by mistake. The
  // quote may itself hold anything, so everything from it on goes; line and
  // column are enough.
  std::string out(message);
  const size_t at = out.find("; last read: '");
  if (at != std::string::npos) out.erase(at);
  return out;
}

}  // namespace

absl::StatusOr<nlohmann::ordered_json> ParseStrictJson(absl::string_view text,
                                                       absl::string_view source,
                                                       JsonComments comments) {
  using Json = nlohmann::ordered_json;
  // nlohmann's lexer takes a NUL byte for the end of the input and would
  // silently drop whatever follows it; a raw NUL is never valid JSON.
  if (size_t nul = text.find('\0'); nul != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid JSON: NUL byte at offset ", nul));
  }
  std::vector<std::set<std::string>> seen_keys;
  std::string duplicate;
  Json::parser_callback_t find_duplicates =
      [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
        switch (event) {
          case Json::parse_event_t::object_start:
            seen_keys.emplace_back();
            break;
          case Json::parse_event_t::object_end:
            if (!seen_keys.empty()) seen_keys.pop_back();
            break;
          case Json::parse_event_t::key:
            if (!seen_keys.empty() &&
                !seen_keys.back().insert(parsed.get<std::string>()).second &&
                duplicate.empty()) {
              duplicate = parsed.get<std::string>();
            }
            break;
          default:
            break;
        }
        return true;
      };
  Json root;
  try {
    root = Json::parse(text.begin(), text.end(), find_duplicates,
                       /*allow_exceptions=*/true,
                       /*ignore_comments=*/comments == JsonComments::kAllowed);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid JSON: ", WithoutExcerpt(e.what())));
  }
  if (!duplicate.empty()) {
    absl::Status s = absl::InvalidArgumentError(
        absl::StrCat(source, ": key ", QuoteJson(duplicate), " appears twice"));
    s.SetPayload(kRepeatedKeyUrl, absl::Cord(duplicate));
    return s;
  }
  return root;
}

std::optional<std::string> RepeatedJsonKey(const absl::Status& status) {
  const auto key = status.GetPayload(kRepeatedKeyUrl);
  if (!key.has_value()) return std::nullopt;
  return std::string(*key);
}

}  // namespace approval
