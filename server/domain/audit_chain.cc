#include "server/domain/audit_chain.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "wire/canonical.h"

namespace approval {

std::string GenesisHash() { return std::string(32, '\0'); }

std::string CanonicalEventBytes(const AuditEvent& e) {
  nlohmann::json details;
  try {
    details = nlohmann::json::parse(e.details_json);
  } catch (const nlohmann::json::exception&) {
    // Unparseable details still hash deterministically, as a string, so a
    // corrupted row fails verification instead of crashing the verifier.
    details = e.details_json;
  }
  nlohmann::json doc = {{"seq", e.seq},
                        {"approval_id", e.approval_id},
                        {"type", std::string(EventTypeName(e.type))},
                        {"actor", e.actor},
                        {"occurred_at_us", absl::ToUnixMicros(e.occurred_at)},
                        {"details", details}};
  return doc.dump();
}

std::string ChainHash(absl::string_view prev_hash, const AuditEvent& e) {
  return Sha256(absl::StrCat(prev_hash, CanonicalEventBytes(e)));
}

std::string AuditSignedBytes(absl::string_view hash) {
  return absl::StrCat("approval-broker/audit/v1\n",
                      absl::BytesToHexString(hash));
}

void SealEvent(const TokenSigner& signer, AuditEvent& e) {
  e.key_id = signer.key_id();
  e.signature = signer.SignDetached(AuditSignedBytes(e.hash));
}

absl::Status AuditKeyring::AddPublicKeyPem(absl::string_view pem) {
  absl::StatusOr<Ed25519PublicKey> key = Ed25519PublicKey::FromPem(pem);
  if (!key.ok()) return key.status();
  Add(*key);
  return absl::OkStatus();
}

void AuditKeyring::Add(const Ed25519PublicKey& key) {
  keys_.insert_or_assign(key.key_id(), key);
}

absl::Status AuditKeyring::VerifySeal(const AuditEvent& e) const {
  if (e.signature.empty()) {
    return absl::DataLossError(
        absl::StrCat("audit event ", e.seq, " is not signed"));
  }
  auto it = keys_.find(e.key_id);
  if (it == keys_.end()) {
    return absl::DataLossError(absl::StrCat(
        "audit event ", e.seq, " is signed by key \"", e.key_id.substr(0, 64),
        "\", which is not a trusted audit key (signing_key_file or "
        "audit_trusted_keys)"));
  }
  if (!it->second.Verify(AuditSignedBytes(e.hash), e.signature)) {
    return absl::DataLossError(absl::StrCat(
        "audit event ", e.seq, ": signature does not verify with key ",
        e.key_id, " (the event or its hash was forged)"));
  }
  return absl::OkStatus();
}

absl::Status AuditChainVerifier::Next(const AuditEvent& e) {
  if (!broken_.ok()) return broken_;
  if (e.seq != last_seq_ + 1) {
    broken_ = absl::DataLossError(
        absl::StrCat("audit event ", e.seq, ": expected seq ", last_seq_ + 1,
                     " (events missing or reordered)"));
  } else if (e.prev_hash != last_hash_) {
    broken_ = absl::DataLossError(absl::StrCat(
        "audit event ", e.seq, ": prev_hash does not match the hash of event ",
        last_seq_));
  } else if (e.hash != ChainHash(e.prev_hash, e)) {
    broken_ = absl::DataLossError(absl::StrCat(
        "audit event ", e.seq,
        ": hash does not match its contents (the row was altered)"));
  }
  if (broken_.ok() && keys_ != nullptr) {
    if (e.signature.empty() && e.key_id.empty() && !seen_signed_) {
      ++unsigned_prefix_;  // written before signing existed
    } else if (e.signature.empty() && e.key_id.empty()) {
      broken_ = absl::DataLossError(absl::StrCat(
          "audit event ", e.seq,
          " is not signed, but events before it are: it was written "
          "without the broker's key (through SQL?)"));
    } else {
      broken_ = keys_->VerifySeal(e);
      seen_signed_ = true;
    }
  }
  if (!broken_.ok()) return broken_;
  ++count_;
  last_seq_ = e.seq;
  last_hash_ = e.hash;
  last_key_id_ = e.key_id;
  last_signature_ = e.signature;
  return absl::OkStatus();
}

absl::Status AuditChainVerifier::Finish() {
  if (!broken_.ok()) return broken_;
  if (keys_ != nullptr && count_ > 0 && last_signature_.empty()) {
    broken_ = absl::DataLossError(absl::StrCat(
        "audit event ", last_seq_, ": the chain ends with unsigned events (",
        unsigned_prefix_,
        " in all), which no broker key vouches for: they may have been "
        "appended through SQL"));
  }
  return broken_;
}

}  // namespace approval
