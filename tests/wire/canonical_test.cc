// Canonical JSON (wire/canonical.cc): the encoding, its refusals, the paths
// in its error messages, and the action digest over it.
#include "wire/canonical.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/status/statusor.h"

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

TEST_CASE("canonical JSON sorts keys and drops white space", "[canonical]") {
  absl::StatusOr<std::string> c = CanonicalizeJsonObject(
      R"( { "b" : [ true , null , 1.5 ], "a": {"y":1,"x":"é"} } )");
  REQUIRE(c.ok());
  CHECK(*c == R"({"a":{"x":"é","y":1},"b":[true,null,1.5]})");
}

TEST_CASE("canonical JSON refuses duplicate keys at any depth", "[canonical]") {
  absl::StatusOr<std::string> c =
      CanonicalizeJsonObject(R"({"a":{"k":1,"k":2}})");
  REQUIRE(c.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(c.status().message()),
             Catch::Contains("duplicate key \"k\""));
}

TEST_CASE("canonical JSON refuses non-objects, bad JSON and deep nesting",
          "[canonical]") {
  CHECK(CanonicalizeJsonObject("[1,2]").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(CanonicalizeJsonObject("{\"a\":").status().code() ==
        absl::StatusCode::kInvalidArgument);
  std::string deep = std::string(100, '[') + std::string(100, ']');
  CHECK(CanonicalizeJsonObject("{\"a\":" + deep + "}").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

// Found by fuzz/canonical_fuzzer: nlohmann's lexer ends the input at a NUL
// byte, so everything after one was dropped and two different parameter
// texts got one digest.
TEST_CASE("canonical JSON refuses a NUL byte instead of ending the text there",
          "[canonical]") {
  const std::string text("{\"a\":1}\0{\"b\":2}", 15);
  absl::StatusOr<std::string> c = CanonicalizeJsonObject(text);
  REQUIRE(c.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(c.status().message()),
             Catch::Contains("NUL byte at offset 7"));
}

TEST_CASE("action digest is SHA-256 of the documented canonical document",
          "[canonical]") {
  absl::StatusOr<std::string> params =
      CanonicalizeJsonObject(R"({"rows": 1200, "table": "customers"})");
  REQUIRE(params.ok());
  std::string expected = Sha256Hex(
      R"({"action":"db.export","parameters":{"rows":1200,"table":"customers"},"resource":"postgres://prod/customers"})");
  CHECK(ActionDigest("db.export", "postgres://prod/customers", *params) ==
        expected);
  // The standard SHA-256 test vector, so Sha256Hex itself is checked.
  CHECK(Sha256Hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("digest differs when any of action, resource or parameters differ",
          "[canonical]") {
  std::string base = ActionDigest("a", "r", "{}");
  CHECK(ActionDigest("b", "r", "{}") != base);
  CHECK(ActionDigest("a", "s", "{}") != base);
  CHECK(ActionDigest("a", "r", R"({"x":1})") != base);
}

}  // namespace
}  // namespace approval
