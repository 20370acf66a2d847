// Signing with the broker's Ed25519 key: approval tokens (the format and
// their verification are in wire/approval_token.h) and audit seals. The
// broker's alone: the client library and approvalctl only verify.
//
// TokenSigner is thread-safe, and remembers the tokens it signed last so
// that one approval sent to many streams is signed once.
#ifndef APPROVAL_SERVER_DOMAIN_TOKEN_SIGNER_H_
#define APPROVAL_SERVER_DOMAIN_TOKEN_SIGNER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "wire/approval_token.h"
#include "wire/ed25519.h"

namespace approval {

// Holds one Ed25519 private key.
class TokenSigner final {
 public:
  // From a PKCS#8 PEM private key ("-----BEGIN PRIVATE KEY-----", as written
  // by `openssl genpkey -algorithm ed25519`). INVALID_ARGUMENT if it is not
  // an Ed25519 private key.
  static absl::StatusOr<std::unique_ptr<TokenSigner>> FromPrivateKeyPem(
      absl::string_view pem);
  // A fresh random key (for tests and for a broker without a key file).
  static std::unique_ptr<TokenSigner> Generate();

  ~TokenSigner();

  // The public half, which verifies what this signer signs.
  const Ed25519PublicKey& public_key() const { return public_key_; }
  // The public key as SubjectPublicKeyInfo PEM.
  const std::string& public_key_pem() const { return public_key_.pem(); }
  // First 16 lower-case hex characters of SHA-256 over the raw 32-byte
  // public key.
  const std::string& key_id() const { return public_key_.key_id(); }

  // The compact JWS for `claims` (wire/approval_token.h), kid key_id();
  // claims.key_id is overwritten with key_id() and the approvers are
  // sorted. claims.issuer and claims.audience are the caller's.
  std::string Sign(ApprovalClaims claims) const;

  // A plain Ed25519 signature (64 raw bytes) over `message`, for callers
  // that frame their own message with a context prefix of their own (the
  // audit chain: AuditSignedBytes), so that no signature made for one use
  // can ever verify for another. Not cached.
  std::string SignDetached(absl::string_view message) const;

 private:
  struct Key;
  TokenSigner(std::unique_ptr<Key> key, Ed25519PublicKey public_key);

  std::unique_ptr<Key> key_;
  Ed25519PublicKey public_key_;
};

// A fresh Ed25519 private key as PKCS#8 PEM, as `openssl genpkey -algorithm
// ed25519` writes it (for tests and benchmarks that need a key file).
std::string GenerateSigningKeyPem();

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_TOKEN_SIGNER_H_
