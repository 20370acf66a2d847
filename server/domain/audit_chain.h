// The tamper-evident audit chain: hash(n) = SHA-256(hash(n-1) || bytes(n)),
// where bytes(n) is the canonical encoding of event n without its hashes.
// Pure functions; AuditChainVerifier is not thread-safe.
#ifndef APPROVAL_SERVER_DOMAIN_AUDIT_CHAIN_H_
#define APPROVAL_SERVER_DOMAIN_AUDIT_CHAIN_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/domain/approval.h"

namespace approval {

// 32 zero bytes: the prev_hash of the first event.
std::string GenesisHash();

// Canonical JSON of {"actor","approval_id","details","occurred_at_us","seq",
// "type"}; `details_json` is embedded as parsed JSON.
std::string CanonicalEventBytes(const AuditEvent& e);

// SHA-256(prev_hash || CanonicalEventBytes(e)), 32 raw bytes.
std::string ChainHash(absl::string_view prev_hash, const AuditEvent& e);

// Feed events in seq order; the first one that breaks the chain yields
// DATA_LOSS naming its seq and what is wrong. Once broken, stays broken.
class AuditChainVerifier {
 public:
  absl::Status Next(const AuditEvent& e);
  int64_t verified_count() const { return count_; }
  int64_t last_seq() const { return last_seq_; }
  const std::string& last_hash() const { return last_hash_; }

 private:
  int64_t count_ = 0;
  int64_t last_seq_ = 0;
  std::string last_hash_ = GenesisHash();
  absl::Status broken_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_AUDIT_CHAIN_H_
