#include "server/store/store.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/domain/audit_chain.h"
#include "server/domain/audit_details.h"
#include "server/domain/audit_proof.h"

namespace approval {
namespace {

constexpr int kPage = 1000;

// Walks the chain into `verifier` and `replay`; a broken event ends the walk
// with its problem in the report.
absl::Status WalkChain(ApprovalStore& store, AuditChainVerifier& verifier,
                       AuditReplay& replay, const AuditVerifyOptions& options,
                       AuditReport& report) {
  std::optional<std::string> hash_at_expected;
  if (options.expected_head && options.expected_head->seq == 0) {
    hash_at_expected = GenesisHash();
  }
  for (;;) {
    absl::StatusOr<std::vector<AuditEvent>> page =
        store.AuditEvents(verifier.last_seq(), kPage);
    if (!page.ok()) return page.status();
    for (const AuditEvent& e : *page) {
      if (absl::Status s = verifier.Next(e); !s.ok()) {
        report.problems.push_back(std::string(s.message()));
        return absl::OkStatus();
      }
      replay.Apply(e);
      if (options.expected_head && e.seq == options.expected_head->seq) {
        hash_at_expected = e.hash;
      }
    }
    if (static_cast<int>(page->size()) < kPage) break;
  }
  // Events cut off the end leave an intact but shorter chain; the store's
  // own record of the last seq gives that away, unless it was rewound too:
  // then only a head recorded outside the database does.
  absl::StatusOr<int64_t> latest = store.LatestCursor();
  if (!latest.ok()) return latest.status();
  if (*latest != verifier.last_seq()) {
    report.problems.push_back(
        absl::StrCat("audit event ", verifier.last_seq() + 1,
                     ": missing (the chain ends at ", verifier.last_seq(),
                     " but the store recorded ", *latest, " events)"));
    return absl::OkStatus();
  }
  if (absl::Status s = verifier.Finish(); !s.ok()) {
    report.problems.push_back(std::string(s.message()));
    return absl::OkStatus();
  }
  if (options.expected_head) {
    const AuditHead& want = *options.expected_head;
    if (!hash_at_expected) {
      report.problems.push_back(absl::StrCat(
          "audit event ", want.seq, ": missing: the recorded head is at seq ",
          want.seq, " but the chain ends at ", verifier.last_seq(),
          " (events were cut off the end)"));
    } else if (*hash_at_expected != want.hash) {
      report.problems.push_back(absl::StrCat(
          "audit event ", want.seq, ": its hash ",
          absl::BytesToHexString(*hash_at_expected),
          " differs from the recorded head's ",
          absl::BytesToHexString(want.hash), " (history was rewritten)"));
    }
  }
  return absl::OkStatus();
}

// Compares every approval row with the replayed chain.
absl::Status CheckRows(ApprovalStore& store, AuditReplay& replay) {
  ListQuery q;
  q.page_size = 500;
  for (;;) {
    absl::StatusOr<ApprovalPage> page = store.List(q);
    if (!page.ok()) return page.status();
    for (const Approval& a : page->approvals) replay.Check(a);
    if (page->next_page_token.empty()) break;
    q.page_token = page->next_page_token;
  }
  replay.CheckNoneMissing();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AuditHead> ParseAuditHead(uint64_t seq,
                                         absl::string_view hash_hex) {
  if (seq > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError("expected_head_seq: out of range");
  }
  const bool hex = hash_hex.size() == 64 &&
                   std::all_of(hash_hex.begin(), hash_hex.end(), [](char c) {
                     return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                   });
  if (!hex) {
    return absl::InvalidArgumentError(
        "expected_head_hash: must be 64 lower-case hex characters (the "
        "head_hash of an earlier verification)");
  }
  return AuditHead{static_cast<int64_t>(seq), absl::HexStringToBytes(hash_hex)};
}

absl::StatusOr<AuditHead> ParseAuditHeadText(absl::string_view text) {
  const size_t colon = text.find(':');
  uint64_t seq = 0;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(text.substr(0, colon), &seq)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected head \"", text.substr(0, 100),
                     "\": must be SEQ:HASH, e.g. 42:<64 hex characters>"));
  }
  return ParseAuditHead(seq, text.substr(colon + 1));
}

absl::StatusOr<AuditReport> VerifyAuditLog(ApprovalStore& store,
                                           const AuditKeyring& keys,
                                           const AuditVerifyOptions& options) {
  AuditReport report;
  AuditChainVerifier verifier(&keys);
  AuditReplay replay;
  if (absl::Status s = WalkChain(store, verifier, replay, options, report);
      !s.ok()) {
    return s;
  }
  report.events_verified = verifier.verified_count();
  report.unsigned_events = verifier.unsigned_prefix();
  report.head = AuditHead{verifier.last_seq(), verifier.last_hash()};
  report.head_key_id = verifier.last_key_id();
  report.head_signature = verifier.last_signature();
  // Replaying a chain that does not verify would only add noise.
  if (!report.ok()) return report;
  if (absl::Status s = CheckRows(store, replay); !s.ok()) return s;
  report.approvals_checked = replay.approvals_checked();
  for (const std::string& p : replay.problems()) report.problems.push_back(p);
  return report;
}

absl::StatusOr<int64_t> VerifyAuditChain(ApprovalStore& store,
                                         const AuditKeyring& keys) {
  absl::StatusOr<AuditReport> report = VerifyAuditLog(store, keys);
  if (!report.ok()) return report.status();
  if (!report->ok()) {
    return absl::DataLossError(report->problems.size() == 1
                                   ? report->problems[0]
                                   : absl::StrCat(report->problems[0], " (and ",
                                                  report->problems.size() - 1,
                                                  " more problems)"));
  }
  return report->events_verified;
}

void AddCommitted(const Transition& plan, int64_t last_seq, absl::Time at,
                  CommittedEvents& c) {
  const int64_t first_seq =
      last_seq - static_cast<int64_t>(plan.events.size()) + 1;
  if (plan.events.empty()) return;
  if (c.first_seq == 0) c.first_seq = first_seq;
  c.last_seq = last_seq;
  int64_t seq = first_seq;
  for (const PlannedEvent& planned : plan.events) {
    const int64_t event_seq = seq++;
    const bool reviewed = planned.type == EventType::kReviewed;
    if (!IsProgressEvent(planned.type) &&
        !StateAfter(planned.type).has_value()) {
      continue;
    }
    ApprovalEvent e;
    e.cursor = event_seq;
    e.type = planned.type;
    e.actor = planned.actor;
    e.occurred_at = at;
    e.approval = plan.after;
    if (planned.type == EventType::kCreated) {
      // As Events() returns it: the approval as it was created.
      e.approval.state = State::kPending;
      e.approval.decided_at.reset();
      e.approval.decided_by.clear();
      e.approval.decision_comment.clear();
      e.approval.reviews.clear();
      e.approval.evidence.clear();
    }
    if (reviewed) {
      // As Events() returns it with include_reviewed: read back from the
      // details the event was sealed with.
      std::optional<ReviewedDetails> r =
          ParseReviewDetails(planned.actor, at, planned.details_json);
      if (r.has_value()) {
        e.review = std::move(r->review);
        e.approvals_missing = r->approvals_missing;
      }
    }
    c.events.push_back(std::move(e));
  }
}

}  // namespace approval
