// Ed25519 public keys (through OpenSSL): the broker signs approval tokens
// and audit seals with Ed25519, and everyone who checks them holds one of
// these. Signing, and everything about private keys, is the broker's alone
// (server/domain/token_signer.h).
#ifndef APPROVAL_WIRE_ED25519_H_
#define APPROVAL_WIRE_ED25519_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace approval {

inline constexpr size_t kEd25519PublicKeyBytes = 32;
inline constexpr size_t kEd25519SignatureBytes = 64;

// An Ed25519 public key, parsed once; immutable, so thread-safe and cheap
// to copy.
class Ed25519PublicKey final {
 public:
  // From SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").
  // INVALID_ARGUMENT if it is not an Ed25519 public key.
  static absl::StatusOr<Ed25519PublicKey> FromPem(absl::string_view pem);
  // From the raw 32-byte key; INVALID_ARGUMENT for any other length or a
  // key OpenSSL refuses.
  static absl::StatusOr<Ed25519PublicKey> FromRaw(absl::string_view raw);

  // First 16 lower-case hex characters of SHA-256 over the raw 32-byte
  // key: how tokens and audit seals name the key that signed them.
  const std::string& key_id() const { return key_id_; }
  // The key as SubjectPublicKeyInfo PEM, as OpenSSL writes it.
  const std::string& pem() const { return pem_; }
  // The raw 32-byte key (a JWK's "x", base64url-encoded).
  const std::string& raw() const { return raw_; }
  // True when `signature` (64 raw bytes) is this key's signature of
  // `message`.
  bool Verify(absl::string_view message, absl::string_view signature) const;

 private:
  struct Key;
  explicit Ed25519PublicKey(std::shared_ptr<const Key> key, std::string pem,
                            std::string raw, std::string key_id)
      : key_(std::move(key)),
        pem_(std::move(pem)),
        raw_(std::move(raw)),
        key_id_(std::move(key_id)) {}

  std::shared_ptr<const Key> key_;
  std::string pem_;
  std::string raw_;
  std::string key_id_;
};

// The key id of a SubjectPublicKeyInfo PEM Ed25519 public key;
// INVALID_ARGUMENT if it is not one.
absl::StatusOr<std::string> KeyIdOf(absl::string_view public_key_pem);

}  // namespace approval

#endif  // APPROVAL_WIRE_ED25519_H_
