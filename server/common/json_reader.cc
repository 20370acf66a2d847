#include "server/common/json_reader.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace approval {
namespace {

using Json = JsonReader::Json;

std::string ArticleType(const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::null:
      return "null";
    case Json::value_t::number_float:
      return "a fractional number";
    default:
      return "a number";
  }
}

constexpr absl::string_view kDurationSyntax = "(like \"90s\", \"1h\")";

}  // namespace

absl::StatusOr<Json> JsonReader::Parse(absl::string_view text,
                                       JsonComments comments) const {
  return ParseStrictJson(text, source_, comments, secrecy_);
}

absl::Status JsonReader::Error(absl::string_view path,
                               absl::string_view what) const {
  return absl::InvalidArgumentError(absl::StrCat(
      source_, ": ", path.empty() ? "(top level)" : path, ": ", what));
}

absl::Status JsonReader::WrongType(const Json& v, absl::string_view path,
                                   absl::string_view expected) const {
  if (secrecy_ == JsonSecrecy::kHideSecrets && !v.is_string()) {
    return Error(path,
                 absl::StrCat("got ", ArticleType(v), ", expected ", expected));
  }
  return Error(path, absl::StrCat(Show(v), " is ", ArticleType(v),
                                  ", expected ", expected));
}

absl::Status JsonReader::Object(const Json& v, const std::string& path,
                                const std::vector<Field>& fields) const {
  if (!v.is_object()) return WrongType(v, path, "an object");
  for (const auto& [key, value] : v.items()) {
    const Field* field = nullptr;
    for (const Field& f : fields) {
      if (f.name == key) field = &f;
    }
    const std::string key_path = KeyPath(path, key);
    if (field == nullptr) {
      std::vector<absl::string_view> names;
      for (const Field& f : fields) names.push_back(f.name);
      return Error(key_path, absl::StrCat("unknown key (expected one of: ",
                                          absl::StrJoin(names, ", "), ")"));
    }
    if (absl::Status s = field->read(value, key_path); !s.ok()) return s;
  }
  for (const Field& f : fields) {
    if (f.required && !v.contains(std::string(f.name))) {
      return Error(JsonPathKey(path, f.name), "required");
    }
  }
  return absl::OkStatus();
}

absl::Status JsonReader::Entries(const Json& v, const std::string& path,
                                 absl::string_view expected,
                                 const ReadEntry& read) const {
  if (!v.is_object()) return WrongType(v, path, expected);
  for (const auto& [key, value] : v.items()) {
    if (absl::Status s = read(key, value, KeyPath(path, key)); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status JsonReader::Array(const Json& v, const std::string& path,
                               absl::string_view expected,
                               const ReadItem& read) const {
  if (!v.is_array()) return WrongType(v, path, expected);
  for (size_t i = 0; i < v.size(); ++i) {
    if (absl::Status s = read(i, v[i], JsonPathIndex(path, i)); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

JsonReader::Read JsonReader::String(std::string* out) const {
  return [this, out](const Json& v, const std::string& path) {
    if (!v.is_string()) return WrongType(v, path, "a string");
    *out = v.get<std::string>();
    return absl::OkStatus();
  };
}

JsonReader::Read JsonReader::Bool(bool* out) const {
  return [this, out](const Json& v, const std::string& path) {
    if (!v.is_boolean()) return WrongType(v, path, "true or false");
    *out = v.get<bool>();
    return absl::OkStatus();
  };
}

JsonReader::Read JsonReader::Int(int* out, int min) const {
  return [this, out, min](const Json& v, const std::string& path) {
    const std::string expected = min == std::numeric_limits<int>::min()
                                     ? std::string("an integer")
                                     : absl::StrCat("an integer >= ", min);
    if (!v.is_number_integer()) return WrongType(v, path, expected);
    const bool too_large =
        v.is_number_unsigned() &&
        v.get<uint64_t>() >
            static_cast<uint64_t>(std::numeric_limits<int>::max());
    if (too_large || v.get<int64_t>() > std::numeric_limits<int>::max() ||
        v.get<int64_t>() < min) {
      return Error(path, absl::StrCat(Show(v), " is out of range (expected ",
                                      expected, ")"));
    }
    *out = static_cast<int>(v.get<int64_t>());
    return absl::OkStatus();
  };
}

JsonReader::Read JsonReader::Size(size_t* out) const {
  return [this, out](const Json& v, const std::string& path) {
    if (!v.is_number_integer()) {
      return WrongType(v, path, "a non-negative integer");
    }
    if (!v.is_number_unsigned()) {
      return Error(path, absl::StrCat(Show(v), " is negative"));
    }
    *out = static_cast<size_t>(v.get<uint64_t>());
    return absl::OkStatus();
  };
}

JsonReader::Read JsonReader::Duration(absl::Duration* out) const {
  return [this, out](const Json& v, const std::string& path) {
    if (!v.is_string()) {
      return WrongType(v, path,
                       absl::StrCat("a duration string ", kDurationSyntax));
    }
    if (!absl::ParseDuration(v.get<std::string>(), out) ||
        *out == absl::InfiniteDuration() || *out == -absl::InfiniteDuration()) {
      return Error(
          path, absl::StrCat(Show(v), " is not a duration ", kDurationSyntax));
    }
    return absl::OkStatus();
  };
}

JsonReader::Read JsonReader::StringArray(std::vector<std::string>* out) const {
  return [this, out](const Json& v, const std::string& path) {
    out->clear();
    return Array(v, path, "an array of strings",
                 [&](size_t, const Json& item, const std::string& at) {
                   if (!item.is_string()) {
                     return WrongType(item, at, "a string");
                   }
                   out->push_back(item.get<std::string>());
                   return absl::OkStatus();
                 });
  };
}

JsonReader::Read JsonReader::Nested(std::vector<Field> fields) const {
  return [this, fields = std::move(fields)](const Json& v,
                                            const std::string& path) {
    return Object(v, path, fields);
  };
}

}  // namespace approval
