#include "server/common/strict_json.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace approval {
namespace {

using Json = nlohmann::ordered_json;

constexpr absl::string_view kRepeatedKeyUrl =
    "type.approval.broker/json_repeated_key";

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

// Follows the parser's events to know the path of the value being read, and
// remembers the first key repeated in one object.
class RepeatedKeyFinder {
 public:
  explicit RepeatedKeyFinder(JsonSecrecy secrecy) : secrecy_(secrecy) {}

  bool OnEvent(Json::parse_event_t event, const Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        NextArrayItem();
        frames_.push_back(
            Frame{event == Json::parse_event_t::object_start, {}, "", 0});
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case Json::parse_event_t::key:
        OnKey(parsed.get<std::string>());
        break;
      case Json::parse_event_t::value:
        NextArrayItem();
        break;
    }
    return true;
  }

  bool found() const { return found_; }
  const std::string& key() const { return key_; }
  const std::string& path() const { return path_; }

 private:
  struct Frame {
    bool is_object;
    std::set<std::string> keys;
    std::string key;  // objects: the key being read
    size_t items;     // arrays: items begun so far
  };

  void NextArrayItem() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().items;
  }

  void OnKey(const std::string& key) {
    if (frames_.empty()) return;
    Frame& top = frames_.back();
    top.key = key;
    if (top.keys.insert(key).second || found_) return;
    found_ = true;
    key_ = key;
    for (const Frame& f : frames_) {
      path_ = f.is_object ? JsonPathKey(path_, ShowJsonKey(f.key, secrecy_))
                          : JsonPathIndex(path_, f.items - 1);
    }
  }

  const JsonSecrecy secrecy_;
  std::vector<Frame> frames_;
  bool found_ = false;
  std::string key_;
  std::string path_;
};

}  // namespace

std::string ShowJson(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  constexpr size_t kMax = 80;
  if (s.size() > kMax) s = absl::StrCat(s.substr(0, kMax), "...");
  return s;
}

std::string QuoteJson(absl::string_view s) {
  return ShowJson(Json(std::string(s)));
}

std::string ShowJsonKey(absl::string_view key, JsonSecrecy secrecy) {
  if (secrecy == JsonSecrecy::kShow) return std::string(key);
  const bool name_like =
      !key.empty() && key.size() <= 16 &&
      std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      });
  return name_like ? std::string(key)
                   : std::string("(not shown: it may be a secret)");
}

std::string ShowJsonValue(const Json& v, JsonSecrecy secrecy) {
  if (secrecy == JsonSecrecy::kShow) return ShowJson(v);
  if (v.is_string()) {
    return absl::StrCat(
        "\"", ShowJsonKey(v.get_ref<const std::string&>(), secrecy), "\"");
  }
  return absl::StrCat("a JSON ", v.type_name());
}

std::string JsonPathKey(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

std::string JsonPathIndex(absl::string_view parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

absl::StatusOr<Json> ParseStrictJson(absl::string_view text,
                                     absl::string_view source,
                                     JsonComments comments,
                                     JsonSecrecy secrecy) {
  // nlohmann's lexer takes a NUL byte for the end of the input and would
  // silently drop whatever follows it; a raw NUL is never valid JSON.
  if (size_t nul = text.find('\0'); nul != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid JSON: NUL byte at offset ", nul));
  }
  RepeatedKeyFinder finder(secrecy);
  Json::parser_callback_t callback =
      [&finder](int /*depth*/, Json::parse_event_t event, Json& parsed) {
        return finder.OnEvent(event, parsed);
      };
  Json root;
  try {
    root = Json::parse(text.begin(), text.end(), callback,
                       /*allow_exceptions=*/true,
                       /*ignore_comments=*/comments == JsonComments::kAllowed);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid JSON: ", WithoutExcerpt(e.what())));
  }
  if (finder.found()) {
    const std::string key =
        secrecy == JsonSecrecy::kShow
            ? QuoteJson(finder.key())
            : absl::StrCat("\"", ShowJsonKey(finder.key(), secrecy), "\"");
    absl::Status s = absl::InvalidArgumentError(absl::StrCat(
        source, ": ", finder.path(), ": key ", key, " appears twice"));
    s.SetPayload(kRepeatedKeyUrl, absl::Cord(finder.key()));
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
