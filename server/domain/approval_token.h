// Approval tokens: the broker's Ed25519 signature over what was approved.
//
// A token is "<payload>.<signature>", both base64url without padding. The
// payload is the canonical JSON of ApprovalClaims (keys: action,
// action_digest, approval_id, approved_at, approvers, key_id, not_after,
// not_before, rule, v); the signature is Ed25519 (through OpenSSL) over the
// payload's JSON bytes. Ed25519 is deterministic: signing the same claims
// with the same key gives the same token, so the broker may re-issue a token
// whenever it returns an approved approval.
//
// The client library compiles this file too, to verify tokens. Pure
// functions; TokenSigner is thread-safe, and remembers the tokens it signed
// last so that one approval sent to many streams is signed once.
#ifndef APPROVAL_SERVER_DOMAIN_APPROVAL_TOKEN_H_
#define APPROVAL_SERVER_DOMAIN_APPROVAL_TOKEN_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace approval {

inline constexpr int kApprovalTokenVersion = 1;

struct ApprovalClaims {
  std::string approval_id;
  std::string action;
  std::string action_digest;  // lower-case hex SHA-256 (canonical.h)
  // Canonical principals who approved, sorted; empty when a rule
  // auto-approved.
  std::vector<std::string> approvers;
  std::string rule;  // the policy rule that applied
  absl::Time approved_at;
  // Execution is allowed in [not_before, not_after).
  absl::Time not_before;
  absl::Time not_after;
  std::string key_id;  // which broker key signed it
  int version = kApprovalTokenVersion;
};

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

  // The public key as SubjectPublicKeyInfo PEM.
  const std::string& public_key_pem() const { return public_key_pem_; }
  // First 16 lower-case hex characters of SHA-256 over the raw 32-byte
  // public key.
  const std::string& key_id() const { return key_id_; }

  // The token for `claims`; claims.key_id is overwritten with key_id().
  std::string Sign(ApprovalClaims claims) const;

  // A plain Ed25519 signature (64 raw bytes) over `message`, for callers
  // that frame their own message with a context prefix of their own (the
  // audit chain: AuditSignedBytes), so that no signature made for one use
  // can ever verify for another. Not cached.
  std::string SignDetached(absl::string_view message) const;

 private:
  struct Key;
  TokenSigner(std::unique_ptr<Key> key, std::string public_key_pem,
              std::string key_id);

  std::unique_ptr<Key> key_;
  std::string public_key_pem_;
  std::string key_id_;
};

// An Ed25519 public key, parsed once; immutable, so thread-safe and cheap
// to copy.
class Ed25519PublicKey final {
 public:
  // From SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").
  // INVALID_ARGUMENT if it is not an Ed25519 public key.
  static absl::StatusOr<Ed25519PublicKey> FromPem(absl::string_view pem);

  const std::string& key_id() const { return key_id_; }
  const std::string& pem() const { return pem_; }
  // True when `signature` (64 raw bytes) is this key's signature of
  // `message`.
  bool Verify(absl::string_view message, absl::string_view signature) const;

 private:
  struct Key;
  explicit Ed25519PublicKey(std::shared_ptr<const Key> key, std::string pem,
                            std::string key_id)
      : key_(std::move(key)),
        pem_(std::move(pem)),
        key_id_(std::move(key_id)) {}

  std::shared_ptr<const Key> key_;
  std::string pem_;
  std::string key_id_;
};

// A fresh Ed25519 private key as PKCS#8 PEM, as `openssl genpkey -algorithm
// ed25519` writes it (for tests and benchmarks that need a key file).
std::string GenerateSigningKeyPem();

// The key id of a SubjectPublicKeyInfo PEM Ed25519 public key;
// INVALID_ARGUMENT if it is not one.
absl::StatusOr<std::string> KeyIdOf(absl::string_view public_key_pem);

// Verifies `token` against `public_key_pem` (SubjectPublicKeyInfo PEM) and
// returns its claims. UNAUTHENTICATED with a message saying what failed
// (malformed token, wrong key id, bad signature, unknown version, claims
// not as specified). Does not look at the time window or the digest: see
// CheckClaims.
absl::StatusOr<ApprovalClaims> VerifyApprovalToken(
    absl::string_view token, absl::string_view public_key_pem);

// OK when `claims` approve exactly `action_digest` (and `approval_id`, unless
// empty) at `now`: PERMISSION_DENIED naming the mismatch, or
// FAILED_PRECONDITION when now is outside [not_before, not_after).
absl::Status CheckClaims(const ApprovalClaims& claims,
                         absl::string_view action_digest,
                         absl::string_view approval_id, absl::Time now);

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_APPROVAL_TOKEN_H_
