// Token verification on its own: tokens are built here from the documented
// JWS format (header and claims JSON written by the test, an Ed25519
// signature by the RFC 8032 test key), not by the broker's signer, so that
// every refusal of a hand-crafted token is tested.
#include "wire/approval_token.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/support/token_claims.h"
#include "tests/wire/rfc8032.h"
#include "wire/base64url.h"
#include "wire/ed25519.h"
#include "wire/jws.h"

namespace approval {
namespace {

using Catch::Contains;

// The shared sample, as a signer would have written it: approvers sorted.
ApprovalClaims Claims() {
  ApprovalClaims c = testing::SampleApprovalClaims();
  c.approvers = {"alice", "bob"};
  return c;
}

Ed25519PublicKey TestKey() {
  return Ed25519PublicKey::FromRaw(rfc8032::PublicKey()).value();
}

std::string PublicPem() { return TestKey().pem(); }

std::string Jwks() { return ApprovalJwks({TestKey()}); }

std::string Sign(const std::string& message) {
  const std::string raw = rfc8032::PrivateKey();
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_private_key(
          EVP_PKEY_ED25519, nullptr,
          reinterpret_cast<const unsigned char*>(raw.data()), raw.size()),
      EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              EVP_MD_CTX_free);
  std::string sig(kEd25519SignatureBytes, '\0');
  size_t len = sig.size();
  REQUIRE(key != nullptr);
  REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) ==
          1);
  REQUIRE(EVP_DigestSign(ctx.get(),
                         reinterpret_cast<unsigned char*>(sig.data()), &len,
                         reinterpret_cast<const unsigned char*>(message.data()),
                         message.size()) == 1);
  return sig;
}

const std::string kHeader =
    absl::StrCat("{\"alg\":\"EdDSA\",\"kid\":\"", rfc8032::kPublicKeyId,
                 "\",\"typ\":\"approval+jwt\"}");

// A token of `header` and the sample claims, properly signed by the test key.
std::string SignedWithHeader(const std::string& header) {
  const std::string input =
      JwsSigningInput(header, ApprovalTokenPayload(Claims()));
  return ApprovalTokenOf(input, Sign(input));
}

std::string GoodToken() { return SignedWithHeader(kHeader); }

std::string Refusal(const std::string& token) {
  absl::StatusOr<ApprovalClaims> claims = VerifyApprovalToken(token, Jwks());
  REQUIRE(claims.status().code() == absl::StatusCode::kUnauthenticated);
  return std::string(claims.status().message());
}

TEST_CASE("a token of the documented format verifies to its claims",
          "[token]") {
  for (const std::string& keys : {Jwks(), PublicPem()}) {
    absl::StatusOr<ApprovalClaims> claims =
        VerifyApprovalToken(GoodToken(), keys);
    REQUIRE(claims.ok());
    CHECK(claims->approval_id == Claims().approval_id);
    CHECK(claims->approvers == Claims().approvers);
    CHECK(claims->approved_at == Claims().approved_at);
    CHECK(claims->not_before == Claims().not_before);
    CHECK(claims->not_after == Claims().not_after);
    CHECK(claims->issuer == "approval-broker");
    CHECK(claims->key_id == rfc8032::kPublicKeyId);
  }
}

TEST_CASE("the key set is a JWKS of OKP Ed25519 keys named by their key id",
          "[token]") {
  CHECK(Jwks() == absl::StrCat("{\"keys\":[{\"kty\":\"OKP\",\"crv\":"
                               "\"Ed25519\",\"x\":\"",
                               Base64UrlEncode(rfc8032::PublicKey()),
                               "\",\"kid\":\"", rfc8032::kPublicKeyId,
                               "\",\"alg\":\"EdDSA\",\"use\":\"sig\"}]}"));
  absl::StatusOr<ApprovalKeySet> set = ParseApprovalKeys(Jwks());
  REQUIRE(set.ok());
  CHECK(set->keys.count(rfc8032::kPublicKeyId) == 1);
}

TEST_CASE("the verifier picks the key by kid among several", "[token]") {
  const Ed25519PublicKey other =
      Ed25519PublicKey::FromRaw(std::string(31, '\x11') + "\x01").value();
  const std::string jwks = ApprovalJwks({other, TestKey()});
  CHECK(VerifyApprovalToken(GoodToken(), jwks).ok());
}

TEST_CASE("a key set that is not what the broker publishes is refused",
          "[token]") {
  const std::string x = Base64UrlEncode(rfc8032::PublicKey());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"a kid that is not the key's id",
       absl::StrCat("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"",
                    x, "\",\"kid\":\"0000000000000000\"}]}")},
      {"a private key",
       absl::StrCat("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"",
                    x, "\",\"d\":\"", x, "\",\"kid\":\"", rfc8032::kPublicKeyId,
                    "\"}]}")},
      {"another curve",
       absl::StrCat("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"",
                    x, "\",\"kid\":\"", rfc8032::kPublicKeyId, "\"}]}")},
      {"no Ed25519 key at all", "{\"keys\":[{\"kty\":\"RSA\"}]}"},
      {"a repeated member",
       absl::StrCat("{\"keys\":[{\"kty\":\"OKP\",\"kty\":\"OKP\"}]}")},
  };
  for (const auto& [what, jwks] : bad) {
    SECTION(what) {
      CHECK(ParseApprovalKeys(jwks).status().code() ==
            absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST_CASE("a tampered token is refused by its signature", "[token]") {
  std::string token = GoodToken();
  ApprovalClaims changed = Claims();
  changed.action_digest = std::string(64, 'b');
  const size_t first = token.find('.');
  const size_t last = token.rfind('.');
  token = absl::StrCat(token.substr(0, first + 1),
                       Base64UrlEncode(ApprovalTokenPayload(changed)),
                       token.substr(last));
  CHECK_THAT(Refusal(token), Contains("signature does not verify"));
}

TEST_CASE("a token whose kid is not in the key set is refused", "[token]") {
  const std::string header =
      "{\"alg\":\"EdDSA\",\"kid\":\"0000000000000000\",\"typ\":\"approval+"
      "jwt\"}";
  CHECK_THAT(Refusal(SignedWithHeader(header)),
             Contains("signed by key 0000000000000000, which is not in the "
                      "key set"));
}

TEST_CASE("header attacks are refused before any key is used", "[token]") {
  const std::string kid = rfc8032::kPublicKeyId;
  const std::vector<std::tuple<std::string, std::string, std::string>> bad = {
      {"alg none",
       absl::StrCat("{\"alg\":\"none\",\"kid\":\"", kid,
                    "\",\"typ\":\"approval+jwt\"}"),
       "alg none"},
      {"HS256 with the public key as secret",
       absl::StrCat("{\"alg\":\"HS256\",\"kid\":\"", kid,
                    "\",\"typ\":\"approval+jwt\"}"),
       "algorithm not allowed"},
      {"RS256",
       absl::StrCat("{\"alg\":\"RS256\",\"kid\":\"", kid,
                    "\",\"typ\":\"approval+jwt\"}"),
       "algorithm not allowed"},
      {"crit",
       absl::StrCat("{\"alg\":\"EdDSA\",\"crit\":[\"exp\"],\"kid\":\"", kid,
                    "\",\"typ\":\"approval+jwt\"}"),
       "critical extensions"},
      {"no kid", "{\"alg\":\"EdDSA\",\"typ\":\"approval+jwt\"}", "no key id"},
      {"a kid with path characters",
       "{\"alg\":\"EdDSA\",\"kid\":\"../etc\",\"typ\":\"approval+jwt\"}",
       "key id (kid) is malformed"},
      {"another typ",
       absl::StrCat("{\"alg\":\"EdDSA\",\"kid\":\"", kid,
                    "\",\"typ\":\"JWT\"}"),
       "typ is not approval+jwt"},
      {"no typ", absl::StrCat("{\"alg\":\"EdDSA\",\"kid\":\"", kid, "\"}"),
       "typ is not approval+jwt"},
      {"a repeated alg",
       absl::StrCat("{\"alg\":\"EdDSA\",\"alg\":\"none\",\"kid\":\"", kid,
                    "\",\"typ\":\"approval+jwt\"}"),
       "appears twice"},
      {"not JSON", "{alg: EdDSA}", "not valid JSON"},
      {"a JSON array", "[]", "not a JSON object"},
  };
  for (const auto& [what, header, message] : bad) {
    SECTION(what) {
      CHECK_THAT(Refusal(SignedWithHeader(header)), Contains(message));
    }
  }
}

TEST_CASE("malformed compact serializations are refused", "[token]") {
  const std::string token = GoodToken();
  const std::string huge_header = absl::StrCat(
      "{\"alg\":\"EdDSA\",\"kid\":\"", rfc8032::kPublicKeyId,
      "\",\"typ\":\"approval+jwt\",\"x\":\"", std::string(20000, 'a'), "\"}");
  const std::vector<std::tuple<std::string, std::string, std::string>> bad = {
      {"padding on the signature", absl::StrCat(token, "=="),
       "signature is not base64url"},
      {"padding on the header",
       absl::StrCat(Base64UrlEncode(kHeader), "=",
                    token.substr(token.find('.'))),
       "header is not base64url"},
      {"a fourth part", absl::StrCat(token, ".AAAA"),
       "header.payload.signature"},
      {"two parts", token.substr(0, token.rfind('.')),
       "header.payload.signature"},
      {"an empty signature", token.substr(0, token.rfind('.') + 1),
       "signature is not base64url"},
      {"standard base64 characters", absl::StrCat("+", token.substr(1)),
       "header is not base64url"},
      {"a huge header", SignedWithHeader(huge_header), "too large"},
      {"the empty string", "", "header.payload.signature"},
  };
  for (const auto& [what, t, message] : bad) {
    SECTION(what) { CHECK_THAT(Refusal(t), Contains(message)); }
  }
}

TEST_CASE("claims of the wrong type are refused after the signature",
          "[token]") {
  const std::string input =
      JwsSigningInput(kHeader, "{\"iss\":\"approval-broker\",\"iat\":\"now\"}");
  CHECK_THAT(Refusal(ApprovalTokenOf(input, Sign(input))),
             Contains("is missing or not"));
}

TEST_CASE("the old two-part token format is refused", "[token]") {
  const std::string payload = "{\"v\":1}";
  CHECK_THAT(Refusal(absl::StrCat(Base64UrlEncode(payload), ".",
                                  Base64UrlEncode(Sign(payload)))),
             Contains("header.payload.signature"));
}

}  // namespace
}  // namespace approval
