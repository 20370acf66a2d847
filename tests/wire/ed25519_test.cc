#include "wire/ed25519.h"

#include <catch2/catch.hpp>
#include <string>

#include "tests/wire/rfc8032.h"

namespace approval {
namespace {

TEST_CASE("a raw public key verifies the RFC 8032 test signature",
          "[ed25519]") {
  absl::StatusOr<Ed25519PublicKey> key =
      Ed25519PublicKey::FromRaw(rfc8032::PublicKey());
  REQUIRE(key.ok());
  CHECK(key->Verify(rfc8032::kTest2Message, rfc8032::Test2Signature()));
  CHECK_FALSE(key->Verify("s", rfc8032::Test2Signature()));
  CHECK_FALSE(
      key->Verify(rfc8032::kTest2Message, rfc8032::Test2Signature().substr(1)));
}

TEST_CASE("a key read from raw bytes equals the same key read from PEM",
          "[ed25519]") {
  absl::StatusOr<Ed25519PublicKey> raw =
      Ed25519PublicKey::FromRaw(rfc8032::PublicKey());
  REQUIRE(raw.ok());
  absl::StatusOr<Ed25519PublicKey> pem = Ed25519PublicKey::FromPem(raw->pem());
  REQUIRE(pem.ok());
  CHECK(pem->pem() == raw->pem());
  CHECK(pem->key_id() == raw->key_id());
  CHECK(KeyIdOf(raw->pem()).value() == raw->key_id());
}

TEST_CASE("the key id is the first 16 hex digits of SHA-256 of the raw key",
          "[ed25519]") {
  absl::StatusOr<Ed25519PublicKey> key =
      Ed25519PublicKey::FromRaw(rfc8032::PublicKey());
  REQUIRE(key.ok());
  // printf %s d75a...511a | xxd -r -p | sha256sum | cut -c1-16
  CHECK(key->key_id() == rfc8032::kPublicKeyId);
}

TEST_CASE("a raw public key of another length is refused", "[ed25519]") {
  const std::string raw = rfc8032::PublicKey();
  CHECK(Ed25519PublicKey::FromRaw(raw.substr(1)).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(Ed25519PublicKey::FromRaw(raw + "x").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace approval
