#include "server/common/json_reader.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"

namespace approval {
namespace {

using Json = JsonReader::Json;

// A small document: {"name": s, "size": n, "items": [{"id": s, "tags": [s]}],
// "wait": duration}; "name" is required.
struct Doc {
  std::string name;
  int size = 0;
  struct Item {
    std::string id;
    std::vector<std::string> tags;
  };
  std::vector<Item> items;
  absl::Duration wait;
};

std::string ErrorOf(absl::string_view text,
                    JsonSecrecy secrecy = JsonSecrecy::kShow) {
  const JsonReader r("doc.json", secrecy);
  absl::StatusOr<Json> root = r.Parse(text);
  if (!root.ok()) return std::string(root.status().message());
  Doc d;
  absl::Status s = r.Object(
      *root, "",
      {{"name", r.String(&d.name), /*required=*/true},
       {"size", r.Int(&d.size, 1)},
       {"items", r.ObjectArray<Doc::Item>(
                     &d.items,
                     [&r](Doc::Item& i) -> std::vector<JsonReader::Field> {
                       return {{"id", r.String(&i.id)},
                               {"tags", r.StringArray(&i.tags)}};
                     })},
       {"wait", r.Duration(&d.wait)}});
  if (!s.ok()) {
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  }
  return "";
}

TEST_CASE("JsonReader: a well-formed document reads without error",
          "[common][json_reader]") {
  CHECK(ErrorOf(R"({"name": "n", "size": 2, "wait": "90s",
                    "items": [{"id": "a", "tags": ["x"]}]})") == "");
}

TEST_CASE("JsonReader: a repeated key is refused with its path",
          "[common][json_reader]") {
  CHECK(ErrorOf(R"({"name": "n", "items": [{"id": "a"},
                    {"id": "b", "tags": [], "id": "c"}]})") ==
        "doc.json: items[1].id: key \"id\" appears twice");
  CHECK(ErrorOf(R"({"name": "n", "name": "m"})") ==
        "doc.json: name: key \"name\" appears twice");
  // Arrays of scalars before the object count in the index.
  CHECK(ErrorOf(R"({"items": [1, [2], {"a": 1, "a": 2}]})") ==
        "doc.json: items[2].a: key \"a\" appears twice");
}

TEST_CASE("JsonReader: an unknown key names its path and the known keys",
          "[common][json_reader]") {
  CHECK(ErrorOf(R"({"name": "n", "items": [{"id": "a", "tag": []}]})") ==
        "doc.json: items[0].tag: unknown key (expected one of: id, tags)");
}

TEST_CASE(
    "JsonReader: a wrong type names the path, the value and what was "
    "expected",
    "[common][json_reader]") {
  CHECK(ErrorOf(R"({"name": 5})") ==
        "doc.json: name: 5 is a number, expected a string");
  CHECK(ErrorOf(R"({"name": "n", "items": [{"tags": ["a", null]}]})") ==
        "doc.json: items[0].tags[1]: null is null, expected a string");
  CHECK(ErrorOf("[]") ==
        "doc.json: (top level): [] is an array, expected an object");
  CHECK(ErrorOf(R"({"name": "n", "size": 0})") ==
        "doc.json: size: 0 is out of range (expected an integer >= 1)");
  CHECK(ErrorOf(R"({"name": "n", "wait": "inf"})") ==
        "doc.json: wait: \"inf\" is not a duration (like \"90s\", \"1h\")");
}

TEST_CASE("JsonReader: a missing required key is named",
          "[common][json_reader]") {
  CHECK(ErrorOf(R"({"size": 2})") == "doc.json: name: required");
}

TEST_CASE("JsonReader: with kHideSecrets no value or odd key is quoted",
          "[common][json_reader]") {
  const std::string secret = "s3cr3t-T0KEN-value-0123456789";
  for (const std::string& text : {
           R"({"name": 5, "x": ")" + secret + R"("})",
           R"({")" + secret + R"(": 1})",
           R"({")" + secret + R"(": {"a": 1, "a": 2}})",
           R"({"name": "n", "items": [{"id": "a", ")" + secret + R"(": 1}]})",
           R"({"name": "n", "size": ")" + secret + R"("})",
       }) {
    const std::string error = ErrorOf(text, JsonSecrecy::kHideSecrets);
    INFO(error);
    CHECK_FALSE(error.empty());
    CHECK_FALSE(absl::StrContains(error, secret));
  }
  // A name-like key is still named.
  CHECK(ErrorOf(R"({"name": "n", "nmae": 1})", JsonSecrecy::kHideSecrets) ==
        "doc.json: nmae: unknown key (expected one of: name, size, items, "
        "wait)");
}

}  // namespace
}  // namespace approval
