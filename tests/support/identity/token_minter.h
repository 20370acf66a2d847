// Test-time OIDC material: signing keys generated in memory (RSA 2048 and EC
// P-256), their public JWKs, and JWTs minted with them, including the
// malicious ones the broker must refuse (alg none, HS256 keyed with the
// public key, forged headers). Nothing here is ever committed as a key.
// OpenSSL failures abort: they are impossible states in a test.
#ifndef APPROVAL_TESTS_SUPPORT_IDENTITY_TOKEN_MINTER_H_
#define APPROVAL_TESTS_SUPPORT_IDENTITY_TOKEN_MINTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace approval::testing {

// A private signing key with a key id. Copyable (copies share the key).
class TestKey final {
 public:
  static TestKey Rsa(std::string kid);  // 2048 bits, signs RS256
  static TestKey Ec(std::string kid);   // P-256, signs ES256

  const std::string& kid() const { return kid_; }
  const std::string& alg() const { return alg_; }  // "RS256" or "ES256"

  // {"kty", "kid", "use": "sig", "alg", "n"/"e" or "crv"/"x"/"y"}.
  nlohmann::json PublicJwk() const;
  // The public key as PEM SubjectPublicKeyInfo: what an attacker would use
  // as the HMAC secret in the HS256 confusion attack.
  std::string PublicPem() const;
  // The raw JWS signature over `signing_input` (r||s for ES256).
  std::string Sign(absl::string_view signing_input) const;

 private:
  TestKey(std::string kid, std::string alg, std::shared_ptr<EVP_PKEY> key);

  std::string kid_;
  std::string alg_;
  std::shared_ptr<EVP_PKEY> key_;
};

// {"keys": [public JWKs]} as text.
std::string JwksJson(const std::vector<TestKey>& keys);

// The usual header {"alg": key.alg(), "kid": key.kid(), "typ": "JWT"}.
nlohmann::json HeaderFor(const TestKey& key);

// iss, aud, sub, iat = now, exp = now + 10 minutes.
nlohmann::json Claims(const std::string& issuer, const std::string& audience,
                      const std::string& subject, absl::Time now);

// Compact JWS of `header`.`claims` signed by `key` (whatever header says).
std::string Mint(const nlohmann::json& header, const nlohmann::json& claims,
                 const TestKey& key);
// Compact JWS of the exact texts given (which need not be valid JSON),
// signed by `key`: for tokens no JSON library would write.
std::string MintText(absl::string_view header_text,
                     absl::string_view claims_text, const TestKey& key);
// `object` as JSON text with one more member `key`: `first_value` placed
// before the object's own members (so `object` should hold `key` too, to
// make it appear twice).
std::string RepeatKey(const nlohmann::json& object, const std::string& key,
                      const nlohmann::json& first_value);
// Mint(HeaderFor(key), claims, key).
std::string Mint(const nlohmann::json& claims, const TestKey& key);
// "header.claims." with an empty signature (header should say alg none).
std::string MintUnsigned(const nlohmann::json& header,
                         const nlohmann::json& claims);
// HMAC-SHA256 over header.claims keyed with `secret`.
std::string MintHs256(const nlohmann::json& header,
                      const nlohmann::json& claims, absl::string_view secret);

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_IDENTITY_TOKEN_MINTER_H_
