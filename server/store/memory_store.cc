#include "server/store/memory_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/domain/audit_chain.h"
#include "server/domain/rules.h"
#include "server/store/page_token.h"

namespace approval {
namespace {

// Microsecond precision, as PostgreSQL stores time.
absl::Time Micros(absl::Time t) {
  return absl::FromUnixMicros(absl::ToUnixMicros(t));
}

std::string PageToken(const Approval& a) {
  return ApprovalPageToken(a.created_at, a.id);
}

// Newest first; ties broken by id descending.
bool NewerThan(const Approval& a, int64_t created_us, const std::string& id) {
  int64_t us = absl::ToUnixMicros(a.created_at);
  return us != created_us ? us > created_us : a.id > id;
}

Approval SnapshotAt(const Approval& current, EventType type) {
  Approval a = current;
  if (type == EventType::kCreated) {
    a.state = State::kPending;
    a.decided_at.reset();
    a.decided_by.clear();
    a.decision_comment.clear();
    a.reviews.clear();
  }
  return a;
}

}  // namespace

MemoryStore::MemoryStore(std::function<absl::Time()> clock,
                         std::shared_ptr<const TokenSigner> audit_signer)
    : clock_(std::move(clock)),
      signer_(audit_signer != nullptr ? std::move(audit_signer)
                                      : TokenSigner::Generate()) {}

Approval MemoryStore::WithEvidence(Approval a) const {
  a.evidence.clear();
  if (a.state != State::kApproved) return a;
  auto it = seqs_by_approval_.find(a.id);
  if (it == seqs_by_approval_.end()) return a;
  for (int64_t seq : it->second) {
    const AuditEvent& e = audit_[static_cast<size_t>(seq - 1)];
    if (e.type == EventType::kCreated || e.type == EventType::kReviewed ||
        e.type == EventType::kApproved) {
      a.evidence.push_back(e);
    }
  }
  return a;
}

void MemoryStore::SetUnavailable(bool unavailable) {
  absl::MutexLock lock(&mu_);
  unavailable_ = unavailable;
}

absl::Status MemoryStore::CheckAvailable() const {
  if (unavailable_) return absl::UnavailableError("memory store: unavailable");
  return absl::OkStatus();
}

ApprovalEvent MemoryStore::AppendEvent(const Approval& a, EventType type,
                                       const std::string& actor,
                                       std::string details, absl::Time now) {
  AuditEvent e;
  e.seq = static_cast<int64_t>(audit_.size()) + 1;
  e.approval_id = a.id;
  e.type = type;
  e.actor = actor;
  e.occurred_at = now;
  e.details_json = std::move(details);
  e.prev_hash = audit_.empty() ? GenesisHash() : audit_.back().hash;
  e.hash = ChainHash(e.prev_hash, e);
  SealEvent(*signer_, e);
  audit_.push_back(e);
  seqs_by_approval_[a.id].push_back(e.seq);
  return ApprovalEvent{e.seq, type, actor, now,
                       WithEvidence(SnapshotAt(a, type))};
}

absl::StatusOr<CreateResult> MemoryStore::Create(const NewApproval& req) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  if (!req.idempotency_key.empty()) {
    for (const auto& [id, a] : approvals_) {
      if (a.requester == req.requester &&
          a.idempotency_key == req.idempotency_key) {
        if (a.request_fingerprint != req.request_fingerprint) {
          return absl::AlreadyExistsError(absl::StrCat(
              "idempotency_key \"", req.idempotency_key,
              "\" was already used for a different request (approval ", id,
              ")"));
        }
        return CreateResult{WithEvidence(a), false};
      }
    }
  }
  absl::Time now = Micros(clock_());
  Approval a;
  a.id = NewUuid();
  a.action = req.action;
  a.resource = req.resource;
  a.parameters_preview = req.parameters_preview;
  a.justification = req.justification;
  a.requester = req.requester;
  a.on_behalf_of = req.on_behalf_of;
  a.idempotency_key = req.idempotency_key;
  a.action_digest = req.action_digest;
  a.request_fingerprint = req.request_fingerprint;
  a.state = State::kPending;
  a.created_at = now;
  a.expires_at = Micros(now + req.ttl);
  a.requirement = req.requirement;
  AppendEvent(a, EventType::kCreated, a.requester, CreatedDetails(a), now);
  if (req.requirement.outcome != Outcome::kRequireApproval) {
    bool approve = req.requirement.outcome == Outcome::kAutoApprove;
    a.state = approve ? State::kApproved : State::kDenied;
    a.decided_at = now;
    a.decided_by = std::string(kPolicyActor);
    AppendEvent(a, approve ? EventType::kApproved : EventType::kDenied,
                a.decided_by, AutoOutcomeDetails(a.requirement), now);
  }
  approvals_[a.id] = a;
  return CreateResult{WithEvidence(a), true};
}

absl::StatusOr<Approval> MemoryStore::Get(const std::string& id) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  auto it = approvals_.find(id);
  if (it == approvals_.end()) {
    return absl::NotFoundError(absl::StrCat("approval ", id, " not found"));
  }
  return WithEvidence(it->second);
}

absl::StatusOr<ApprovalPage> MemoryStore::List(const ListQuery& q) {
  int64_t after_us = 0;
  std::string after_id;
  if (!q.page_token.empty()) {
    absl::StatusOr<ApprovalPagePosition> pos =
        ParseApprovalPageToken(q.page_token);
    if (!pos.ok()) return pos.status();
    after_us = pos->created_at_us;
    after_id = std::move(pos->id);
  }
  int page_size = std::clamp(q.page_size, 1, 500);
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  std::vector<Approval> matching;
  for (const auto& [id, a] : approvals_) {
    if (q.state && a.state != *q.state) continue;
    if (q.requester && a.requester != *q.requester) continue;
    if (!q.page_token.empty() && NewerThan(a, after_us, after_id)) continue;
    if (!q.page_token.empty() && a.id == after_id &&
        absl::ToUnixMicros(a.created_at) == after_us) {
      continue;
    }
    matching.push_back(WithEvidence(a));
  }
  std::sort(matching.begin(), matching.end(),
            [](const Approval& x, const Approval& y) {
              return NewerThan(x, absl::ToUnixMicros(y.created_at), y.id);
            });
  ApprovalPage page;
  if (static_cast<int>(matching.size()) > page_size) {
    matching.resize(page_size);
    page.next_page_token = PageToken(matching.back());
  }
  page.approvals = std::move(matching);
  return page;
}

absl::StatusOr<ApprovalEvent> MemoryStore::Decide(const DecideInput& in) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  auto it = approvals_.find(in.approval_id);
  if (it == approvals_.end()) {
    return absl::NotFoundError(
        absl::StrCat("approval ", in.approval_id, " not found"));
  }
  Approval& a = it->second;
  absl::Time now = Micros(clock_());
  absl::Status check = CheckReview(a, in.actor, in.actor_groups, now);
  if (IsAuditedRefusal(check)) {
    AppendEvent(a, EventType::kDecisionRefused, in.actor,
                RefusalDetails(check.message(), in.verdict), now);
    return check;
  }
  if (!check.ok()) return check;
  Review review{in.actor, in.verdict, in.comment, now};
  a.reviews.push_back(review);
  ApprovalEvent last = AppendEvent(a, EventType::kReviewed, in.actor,
                                   ReviewDetails(a, review), now);
  std::optional<State> outcome = QuorumOutcome(a);
  if (!outcome) return last;
  a.state = *outcome;
  a.decided_at = now;
  a.decided_by = in.actor;
  a.decision_comment = in.comment;
  return AppendEvent(
      a,
      *outcome == State::kApproved ? EventType::kApproved : EventType::kDenied,
      in.actor, QuorumDetails(a), now);
}

absl::StatusOr<ApprovalEvent> MemoryStore::Cancel(const std::string& id,
                                                  const std::string& actor,
                                                  const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  auto it = approvals_.find(id);
  if (it == approvals_.end()) {
    return absl::NotFoundError(absl::StrCat("approval ", id, " not found"));
  }
  Approval& a = it->second;
  if (absl::Status s = CheckCancel(a, actor); !s.ok()) return s;
  absl::Time now = Micros(clock_());
  a.state = State::kCancelled;
  a.decided_at = now;
  a.decided_by = actor;
  a.decision_comment = reason;
  return AppendEvent(a, EventType::kCancelled, actor, CancelDetails(reason),
                     now);
}

absl::StatusOr<std::vector<ApprovalEvent>> MemoryStore::ExpireDue(int limit) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  absl::Time now = Micros(clock_());
  std::vector<Approval*> due;
  for (auto& [id, a] : approvals_) {
    if (a.state == State::kPending && a.expires_at <= now) due.push_back(&a);
  }
  std::sort(due.begin(), due.end(), [](const Approval* x, const Approval* y) {
    return x->expires_at < y->expires_at;
  });
  if (static_cast<int>(due.size()) > limit) due.resize(limit);
  std::vector<ApprovalEvent> out;
  for (Approval* a : due) {
    a->state = State::kExpired;
    a->decided_at = now;
    a->decided_by.clear();
    a->decision_comment.clear();
    out.push_back(AppendEvent(*a, EventType::kExpired,
                              std::string(kSystemActor),
                              ExpiryDetails(a->expires_at), now));
  }
  return out;
}

absl::StatusOr<std::vector<ApprovalEvent>> MemoryStore::Events(
    const EventQuery& q) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  std::vector<ApprovalEvent> out;
  for (const AuditEvent& e : audit_) {
    if (static_cast<int>(out.size()) >= q.limit) break;
    if (e.seq <= q.after_cursor || e.seq > q.up_to_cursor) continue;
    std::optional<State> after = StateAfter(e.type);
    if (!after) continue;
    if (q.terminal_only && !IsTerminal(*after)) continue;
    if (!q.approval_ids.empty() &&
        std::find(q.approval_ids.begin(), q.approval_ids.end(),
                  e.approval_id) == q.approval_ids.end()) {
      continue;
    }
    const Approval& a = approvals_.at(e.approval_id);
    if (q.requester && a.requester != *q.requester) continue;
    out.push_back(ApprovalEvent{e.seq, e.type, e.actor, e.occurred_at,
                                WithEvidence(SnapshotAt(a, e.type))});
  }
  return out;
}

absl::StatusOr<int64_t> MemoryStore::LatestCursor() {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  return static_cast<int64_t>(audit_.size());
}

absl::StatusOr<int64_t> MemoryStore::CountPending() {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  return std::count_if(approvals_.begin(), approvals_.end(), [](const auto& p) {
    return p.second.state == State::kPending;
  });
}

absl::StatusOr<std::vector<AuditEvent>> MemoryStore::QueryAudit(
    const AuditQuery& q) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  std::vector<AuditEvent> out;
  // audit_[i].seq == i + 1: start right after after_seq.
  for (size_t i = static_cast<size_t>(std::max<int64_t>(q.after_seq, 0));
       i < audit_.size() && static_cast<int>(out.size()) < q.limit; ++i) {
    const AuditEvent& e = audit_[i];
    if (!q.approval_id.empty() && e.approval_id != q.approval_id) continue;
    if (!q.actor.empty() && e.actor != q.actor) continue;
    if (q.from && e.occurred_at < *q.from) continue;
    if (q.until && e.occurred_at >= *q.until) continue;
    out.push_back(e);
  }
  return out;
}

absl::Status MemoryStore::Ping() {
  absl::MutexLock lock(&mu_);
  return CheckAvailable();
}

}  // namespace approval
