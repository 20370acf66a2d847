// The JSON paths in canonical JSON's error messages (the path tracking of
// wire/canonical.cc); the encoding itself is tested in tests/unit.
#include "wire/canonical.h"

#include <catch2/catch.hpp>
#include <string>

namespace approval {
namespace {

std::string Error(const std::string& text, const std::string& name) {
  absl::StatusOr<std::string> c = CanonicalizeJsonObject(text, name);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

TEST_CASE("a number error names its path through objects and arrays",
          "[canonical]") {
  CHECK_THAT(Error(R"({"a":{"b":[1,0.10000000000000000001]}})", "parameters"),
             Catch::StartsWith("parameters.a.b[1]: number "
                               "0.10000000000000000001 cannot be represented "
                               "exactly (it would become 0.1)"));
}

TEST_CASE("a number beyond the double range names its path", "[canonical]") {
  CHECK_THAT(Error(R"({"a":[{"c":1e400}]})", "parameters"),
             Catch::StartsWith("parameters.a[0].c: number 1e400 cannot be "
                               "represented exactly (beyond the range"));
}

TEST_CASE("a key that is not a plain name is quoted in brackets in the path",
          "[canonical]") {
  CHECK(Error(R"({"a b":{"x":2,"x":3}})", "parameters") ==
        R"(parameters: duplicate key "x" in parameters["a b"])");
}

TEST_CASE("without a name, paths start at the root", "[canonical]") {
  CHECK_THAT(Error(R"({"n":[2,-0]})", ""),
             Catch::StartsWith("n[1]: number -0"));
  CHECK(Error(R"({"k":1,"k":2})", "") == R"(duplicate key "k")");
}

TEST_CASE("nesting deeper than the limit is refused with the limit",
          "[canonical]") {
  std::string deep = "{\"a\":";
  for (int i = 0; i < kMaxJsonDepth; ++i) deep += "[";
  CHECK(Error(deep, "parameters") ==
        "parameters: nested deeper than 64 levels");
}

}  // namespace
}  // namespace approval
