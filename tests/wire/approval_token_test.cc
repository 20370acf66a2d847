// Token verification on its own: tokens are built here from the documented
// format (ApprovalTokenPayload, an Ed25519 signature by the RFC 8032 test
// key, ApprovalTokenOf), not by the broker's signer.
#include "wire/approval_token.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/support/token_claims.h"
#include "tests/wire/rfc8032.h"
#include "wire/base64url.h"
#include "wire/ed25519.h"

namespace approval {
namespace {

// The shared sample, as a signer would have written it: approvers sorted,
// the RFC 8032 test key's id.
ApprovalClaims Claims() {
  ApprovalClaims c = testing::SampleApprovalClaims();
  c.approvers = {"alice", "bob"};
  c.key_id = rfc8032::kPublicKeyId;
  return c;
}

std::string PublicPem() {
  return Ed25519PublicKey::FromRaw(rfc8032::PublicKey()).value().pem();
}

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

TEST_CASE("a token of the documented format verifies to its claims",
          "[token]") {
  const std::string payload = ApprovalTokenPayload(Claims());
  absl::StatusOr<ApprovalClaims> claims =
      VerifyApprovalToken(ApprovalTokenOf(payload, Sign(payload)), PublicPem());
  REQUIRE(claims.ok());
  CHECK(claims->approval_id == Claims().approval_id);
  CHECK(claims->approvers == Claims().approvers);
  CHECK(claims->not_after == Claims().not_after);
  CHECK(claims->key_id == rfc8032::kPublicKeyId);
}

TEST_CASE("the token is base64url(payload) '.' base64url(signature)",
          "[token]") {
  CHECK(ApprovalTokenOf("{}", "\xfb\xff") == "e30.-_8");
}

TEST_CASE("a token with an empty payload part is refused as not base64url",
          "[token]") {
  const std::string token = absl::StrCat(".", Base64UrlEncode(Sign("")));
  absl::StatusOr<ApprovalClaims> claims =
      VerifyApprovalToken(token, PublicPem());
  CHECK(claims.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(claims.status().message()),
             Catch::Contains("payload is not base64url without padding"));
}

TEST_CASE("a token with a padded signature part is refused", "[token]") {
  const std::string payload = ApprovalTokenPayload(Claims());
  const std::string token =
      absl::StrCat(ApprovalTokenOf(payload, Sign(payload)), "==");
  absl::StatusOr<ApprovalClaims> claims =
      VerifyApprovalToken(token, PublicPem());
  CHECK(claims.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(claims.status().message()),
             Catch::Contains("signature is not 64 bytes of base64url"));
}

TEST_CASE("claims that name another key id are refused", "[token]") {
  ApprovalClaims other = Claims();
  other.key_id = "0000000000000000";
  const std::string payload = ApprovalTokenPayload(other);
  absl::StatusOr<ApprovalClaims> claims =
      VerifyApprovalToken(ApprovalTokenOf(payload, Sign(payload)), PublicPem());
  CHECK(claims.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(claims.status().message()),
             Catch::Contains("token names key 0000000000000000"));
}

TEST_CASE("a payload with unsorted approvers is refused as not canonical",
          "[token]") {
  ApprovalClaims unsorted = Claims();
  unsorted.approvers = {"bob", "alice"};
  const std::string payload = ApprovalTokenPayload(unsorted);
  absl::StatusOr<ApprovalClaims> claims =
      VerifyApprovalToken(ApprovalTokenOf(payload, Sign(payload)), PublicPem());
  CHECK(claims.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(claims.status().message()),
             Catch::Contains("payload is not in canonical form"));
}

}  // namespace
}  // namespace approval
