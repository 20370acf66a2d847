#include "server/domain/audit_chain.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "server/domain/canonical.h"

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
  if (!broken_.ok()) return broken_;
  ++count_;
  last_seq_ = e.seq;
  last_hash_ = e.hash;
  return absl::OkStatus();
}

}  // namespace approval
