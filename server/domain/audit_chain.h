// The tamper-evident audit chain.
//
// hash(n) = SHA-256(hash(n-1) || bytes(n)), where bytes(n) is the canonical
// encoding of event n without its hashes (CanonicalEventBytes). The plain
// chain only shows changes made by someone who did not recompute it; anyone
// holding the database credentials can. So every event is also sealed:
// signature(n) = Ed25519(broker key, AuditSignedBytes(hash(n))), with a key
// the database never holds. A signature covers hash(n) and so, through the
// chain, every event before n.
//
// Pure functions; AuditChainVerifier is not thread-safe, AuditKeyring is
// immutable once built.
#ifndef APPROVAL_SERVER_DOMAIN_AUDIT_CHAIN_H_
#define APPROVAL_SERVER_DOMAIN_AUDIT_CHAIN_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/domain/approval.h"
#include "server/domain/token_signer.h"

namespace approval {

// 32 zero bytes: the prev_hash of the first event.
std::string GenesisHash();

// Canonical JSON of {"actor","approval_id","details","occurred_at_us","seq",
// "type"}; `details_json` is embedded as parsed JSON.
std::string CanonicalEventBytes(const AuditEvent& e);

// SHA-256(prev_hash || CanonicalEventBytes(e)), 32 raw bytes.
std::string ChainHash(absl::string_view prev_hash, const AuditEvent& e);

// What an event's signature covers: the ASCII text
// "approval-broker/audit/v1\n" followed by the lower-case hex of its 32-byte
// hash. The prefix keeps an audit signature from ever verifying as an
// approval token (whose payload starts with '{') and vice versa.
std::string AuditSignedBytes(absl::string_view hash);

// Sets e.key_id and e.signature from `signer`; e.hash must be final.
void SealEvent(const TokenSigner& signer, AuditEvent& e);

// The public keys whose audit signatures are trusted: the broker's signing
// key and the retired keys it signed with before (key rotation).
class AuditKeyring final {
 public:
  // Adds a SubjectPublicKeyInfo PEM Ed25519 key; INVALID_ARGUMENT otherwise.
  absl::Status AddPublicKeyPem(absl::string_view pem);
  void Add(const Ed25519PublicKey& key);
  bool empty() const { return keys_.empty(); }
  // Whether the key with id `key_id` (Ed25519PublicKey::key_id) is trusted.
  bool Contains(const std::string& key_id) const {
    return keys_.count(key_id) > 0;
  }

  // OK when `e` is signed by a trusted key and the signature covers e.hash.
  // DATA_LOSS saying what is wrong (unsigned, unknown key, bad signature).
  // Does not check that e.hash matches the event (ChainHash does).
  absl::Status VerifySeal(const AuditEvent& e) const;

 private:
  std::map<std::string, Ed25519PublicKey> keys_;  // by key id
};

// Feed events in seq order; the first one that breaks the chain yields
// DATA_LOSS naming its seq and what is wrong. Once broken, stays broken.
//
// With a keyring every event must carry a trusted signature, except a
// prefix of unsigned events written before audit signing existed: those
// are covered by the first signed event after them (its hash chains over
// them). An unsigned event after a signed one, or a chain that ends with
// unsigned events (Finish), is DATA_LOSS. Without a keyring (nullptr) only
// the plain chain is checked.
class AuditChainVerifier {
 public:
  explicit AuditChainVerifier(const AuditKeyring* keys = nullptr)
      : keys_(keys) {}

  absl::Status Next(const AuditEvent& e);
  // Call after the last event: DATA_LOSS if the chain ends unsigned.
  absl::Status Finish();

  int64_t verified_count() const { return count_; }
  int64_t last_seq() const { return last_seq_; }
  const std::string& last_hash() const { return last_hash_; }
  // The last event's seal (empty when the chain is empty or unsigned).
  const std::string& last_key_id() const { return last_key_id_; }
  const std::string& last_signature() const { return last_signature_; }
  // Unsigned events before the first signed one.
  int64_t unsigned_prefix() const { return unsigned_prefix_; }

 private:
  const AuditKeyring* keys_;
  int64_t count_ = 0;
  int64_t last_seq_ = 0;
  std::string last_hash_ = GenesisHash();
  std::string last_key_id_;
  std::string last_signature_;
  int64_t unsigned_prefix_ = 0;
  bool seen_signed_ = false;
  absl::Status broken_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_AUDIT_CHAIN_H_
