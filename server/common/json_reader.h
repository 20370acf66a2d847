// The one strict reader of JSON fields, for every JSON file the broker is
// configured with (broker config, policy file, tokens file, and whatever
// comes next). A document is read by describing each object as a list of
// fields; the reader refuses unknown keys and wrong JSON types, and (through
// ParseStrictJson) repeated keys. Every error is INVALID_ARGUMENT
//   "<source>: <path>: <what was wrong and what was expected>"
// with the path of the key, e.g. `auth.oidc.issuer` or `rules[2].action`
// ("(top level)" for the document itself). With JsonSecrecy::kHideSecrets
// no message quotes a value or key that could be a secret.
//
// A JsonReader only reads; callers check ranges and cross-field rules with
// Error() so that those messages have the same shape. Thread-compatible;
// the reader holds `source` by reference.
#ifndef APPROVAL_SERVER_COMMON_JSON_READER_H_
#define APPROVAL_SERVER_COMMON_JSON_READER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/common/strict_json.h"

namespace approval {

class JsonReader final {
 public:
  // ordered_json so that errors come in file order.
  using Json = nlohmann::ordered_json;
  // Reads one value found at `path` into its destination.
  using Read =
      std::function<absl::Status(const Json& value, const std::string& path)>;
  // Reads one member of an object whose keys are data (group names):
  // `path` already names the key.
  using ReadEntry = std::function<absl::Status(
      const std::string& key, const Json& value, const std::string& path)>;
  // Reads item `index` of an array.
  using ReadItem = std::function<absl::Status(size_t index, const Json& value,
                                              const std::string& path)>;

  // One key of an object. A required field that is absent is an error
  // "<path>.<name>: required".
  struct Field {
    absl::string_view name;
    Read read;
    bool required = false;
  };

  // `source` (e.g. "config.json", "tokens file /etc/broker/tokens.json")
  // prefixes every error; it must outlive the reader.
  explicit JsonReader(absl::string_view source,
                      JsonSecrecy secrecy = JsonSecrecy::kShow)
      : source_(source), secrecy_(secrecy) {}

  // ParseStrictJson with this reader's source and secrecy.
  absl::StatusOr<Json> Parse(
      absl::string_view text,
      JsonComments comments = JsonComments::kAllowed) const;

  // "<source>: <path>: <what>" as INVALID_ARGUMENT; "" is "(top level)".
  absl::Status Error(absl::string_view path, absl::string_view what) const;
  // "<value> is <its type>, expected <expected>".
  absl::Status WrongType(const Json& v, absl::string_view path,
                         absl::string_view expected) const;
  // `v` or `key` as this reader's messages may show them (strict_json.h).
  std::string Show(const Json& v) const { return ShowJsonValue(v, secrecy_); }
  std::string ShowKey(absl::string_view key) const {
    return ShowJsonKey(key, secrecy_);
  }
  // The path of `key` under `parent`, the key shown as ShowKey does.
  std::string KeyPath(absl::string_view parent, absl::string_view key) const {
    return JsonPathKey(parent, ShowKey(key));
  }

  // Reads the object `v` field by field, in file order. A key that is not a
  // field is an error listing the known ones; a missing required field too.
  absl::Status Object(const Json& v, const std::string& path,
                      const std::vector<Field>& fields) const;
  // Reads every member of the object `v` (`expected` describes it for a
  // wrong type, e.g. "an object {\"group\": [roles]}").
  absl::Status Entries(const Json& v, const std::string& path,
                       absl::string_view expected, const ReadEntry& read) const;
  // Reads every item of the array `v` (`expected` e.g. "an array of roles").
  absl::Status Array(const Json& v, const std::string& path,
                     absl::string_view expected, const ReadItem& read) const;

  // Readers of one value. Each refuses any other JSON type.
  Read String(std::string* out) const;
  Read Bool(bool* out) const;
  // An integer in [min, max].
  Read Int(int* out, int min = std::numeric_limits<int>::min()) const;
  Read Size(size_t* out) const;  // a non-negative integer
  // A string in absl::ParseDuration syntax ("90s", "1h30m"); finite.
  Read Duration(absl::Duration* out) const;
  Read StringArray(std::vector<std::string>* out) const;
  // An object read by `fields`.
  Read Nested(std::vector<Field> fields) const;
  // An array of objects: each item is a T read by the fields `fields_of`
  // returns for it.
  template <typename T>
  Read ObjectArray(std::vector<T>* out,
                   std::function<std::vector<Field>(T&)> fields_of) const {
    return [this, out, fields_of = std::move(fields_of)](
               const Json& v, const std::string& path) {
      out->clear();
      return Array(v, path, "an array of objects",
                   [&](size_t, const Json& item, const std::string& at) {
                     T& t = out->emplace_back();
                     return Object(item, at, fields_of(t));
                   });
    };
  }

 private:
  const absl::string_view source_;
  const JsonSecrecy secrecy_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_COMMON_JSON_READER_H_
