// The shared compact-JWS parser on its own (wire/jws.h): the checks both
// approval tokens and IdP tokens rely on, with their refusal labels.
#include "wire/jws.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "wire/base64url.h"

namespace approval {
namespace {

JwsParseOptions Options() {
  JwsParseOptions o;
  o.max_bytes = 1024;
  o.allowed_algorithms = {JwsAlgorithm::kEs256};
  return o;
}

std::string Token(const std::string& header) {
  return absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode("{}"), ".",
                      Base64UrlEncode("sig"));
}

std::string ReasonOf(const std::string& token, const JwsParseOptions& o) {
  absl::StatusOr<CompactJws> jws = ParseCompactJws(token, o);
  REQUIRE_FALSE(jws.ok());
  CHECK(jws.status().code() == absl::StatusCode::kUnauthenticated);
  return JwsRefusalOf(jws.status()).reason;
}

TEST_CASE("a well-formed token yields its alg, kid and signing input",
          "[jws]") {
  const std::string token = Token("{\"alg\":\"ES256\",\"kid\":\"k1\"}");
  absl::StatusOr<CompactJws> jws = ParseCompactJws(token, Options());
  REQUIRE(jws.ok());
  CHECK(jws->alg == JwsAlgorithm::kEs256);
  CHECK(jws->kid == "k1");
  CHECK(jws->signing_input == token.substr(0, token.rfind('.')));
  CHECK(jws->signature == "sig");
}

TEST_CASE("each refusal carries its label", "[jws]") {
  CHECK(ReasonOf(Token("{\"alg\":\"none\",\"kid\":\"k1\"}"), Options()) ==
        "alg_none");
  CHECK(ReasonOf(Token("{\"alg\":\"NONE\",\"kid\":\"k1\"}"), Options()) ==
        "alg_none");
  CHECK(ReasonOf(Token("{\"alg\":\"HS256\",\"kid\":\"k1\"}"), Options()) ==
        "alg_not_allowed");
  CHECK(ReasonOf(Token("{\"alg\":\"EdDSA\",\"kid\":\"k1\"}"), Options()) ==
        "alg_not_allowed");
  CHECK(ReasonOf(Token("{\"alg\":\"ES256\",\"kid\":\"k1\",\"crit\":[]}"),
                 Options()) == "crit_header");
  CHECK(ReasonOf(Token("{\"alg\":\"ES256\"}"), Options()) == "kid_missing");
  CHECK(ReasonOf(Token("{\"alg\":\"ES256\",\"kid\":\"a/b\"}"), Options()) ==
        "kid_invalid");
  CHECK(ReasonOf(Token("{\"alg\":\"ES256\",\"kid\":\"k1\",\"kid\":\"k2\"}"),
                 Options()) == "malformed");
  CHECK(ReasonOf(std::string(2000, 'a'), Options()) == "malformed");
  JwsParseOptions typed = Options();
  typed.required_type = "approval+jwt";
  CHECK(ReasonOf(Token("{\"alg\":\"ES256\",\"kid\":\"k1\"}"), typed) ==
        "wrong_type");
}

TEST_CASE("algorithm names are case-sensitive JOSE names", "[jws]") {
  CHECK(ParseJwsAlgorithm("EdDSA") == JwsAlgorithm::kEdDsa);
  CHECK_FALSE(ParseJwsAlgorithm("eddsa").has_value());
  CHECK_FALSE(ParseJwsAlgorithm("HS256").has_value());
  CHECK_FALSE(ParseJwsAlgorithm("none").has_value());
}

}  // namespace
}  // namespace approval
