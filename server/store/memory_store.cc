#include "server/store/memory_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/domain/audit_chain.h"
#include "server/domain/audit_details.h"
#include "server/domain/transition.h"
#include "server/domain/validation.h"
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

ApprovalEvent MemoryStore::Apply(Transition plan, absl::Time now,
                                 CommittedEvents& committed) {
  ApprovalEvent last;
  for (const PlannedEvent& planned : plan.events) {
    AuditEvent e;
    e.seq = static_cast<int64_t>(audit_.size()) + 1;
    e.approval_id = plan.after.id;
    e.type = planned.type;
    e.actor = planned.actor;
    e.occurred_at = now;
    e.details_json = planned.details_json;
    e.prev_hash = audit_.empty() ? GenesisHash() : audit_.back().hash;
    e.hash = ChainHash(e.prev_hash, e);
    SealEvent(*signer_, e);
    last =
        ApprovalEvent{e.seq, e.type, e.actor, now, Approval(), std::nullopt, 0};
    seqs_by_approval_[plan.after.id].push_back(e.seq);
    audit_.push_back(std::move(e));
  }
  if (!plan.refused()) {
    approvals_[plan.after.id] = plan.after;
    plan.after = WithEvidence(std::move(plan.after));
    last.approval = plan.after;
  }
  if (last.cursor > 0) AddCommitted(plan, last.cursor, now, committed);
  return last;
}

absl::StatusOr<CreateResult> MemoryStore::Create(const NewApproval& req) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  if (!req.idempotency_key.empty()) {
    for (const auto& [id, a] : approvals_) {
      if (a.requester == req.requester &&
          a.idempotency_key == req.idempotency_key) {
        if (absl::Status s = CheckIdempotentRepeat(a, req); !s.ok()) {
          return s;
        }
        return CreateResult{WithEvidence(a), false};
      }
    }
  }
  absl::Time now = Micros(clock_());
  Transition plan = PlanCreate(req, NewUuid(), now);
  CommittedEvents committed;
  CreateResult result{Apply(std::move(plan), now, committed).approval, true};
  NotifyCommitted(committed);
  return result;
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
  absl::Time now = Micros(clock_());
  Transition plan = PlanReview(it->second, in, now);
  absl::Status refusal = plan.refusal;
  CommittedEvents committed;
  ApprovalEvent last = Apply(std::move(plan), now, committed);
  NotifyCommitted(committed);
  if (!refusal.ok()) return refusal;
  return last;
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
  absl::Time now = Micros(clock_());
  Transition plan = PlanCancel(it->second, actor, reason, now);
  if (plan.refused()) return plan.refusal;
  CommittedEvents committed;
  ApprovalEvent last = Apply(std::move(plan), now, committed);
  NotifyCommitted(committed);
  return last;
}

absl::StatusOr<std::vector<ApprovalEvent>> MemoryStore::ExpireDue(int limit) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  absl::Time now = Micros(clock_());
  std::vector<const Approval*> due;
  for (auto& [id, a] : approvals_) {
    if (a.state == State::kPending && a.expires_at <= now) due.push_back(&a);
  }
  std::sort(due.begin(), due.end(), [](const Approval* x, const Approval* y) {
    return x->expires_at < y->expires_at;
  });
  if (static_cast<int>(due.size()) > limit) due.resize(limit);
  std::vector<ApprovalEvent> out;
  CommittedEvents committed;
  for (const Approval* a : due) {
    Transition plan = PlanExpire(*a, now);
    if (plan.refused()) {  // due was selected above
      NotifyCommitted(committed);
      return plan.refusal;
    }
    out.push_back(Apply(std::move(plan), now, committed));
  }
  NotifyCommitted(committed);
  return out;
}

absl::StatusOr<std::vector<ApprovalEvent>> MemoryStore::EscalateDue(int limit) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckAvailable(); !s.ok()) return s;
  absl::Time now = Micros(clock_());
  std::vector<Transition> plans;
  for (const auto& [id, a] : approvals_) {
    Transition plan = PlanEscalate(a, now);
    if (!plan.refused()) plans.push_back(std::move(plan));
  }
  std::sort(plans.begin(), plans.end(),
            [](const Transition& x, const Transition& y) {
              return x.after.created_at + x.after.requirement.escalate_after <
                     y.after.created_at + y.after.requirement.escalate_after;
            });
  if (static_cast<int>(plans.size()) > std::max(limit, 0)) {
    plans.resize(static_cast<size_t>(std::max(limit, 0)));
  }
  std::vector<ApprovalEvent> out;
  CommittedEvents committed;
  for (Transition& plan : plans) {
    out.push_back(Apply(std::move(plan), now, committed));
  }
  NotifyCommitted(committed);
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
    const bool progress = IsProgressEvent(e.type) && q.include_reviewed;
    const bool reviewed = progress && e.type == EventType::kReviewed;
    if (!after && !progress) continue;
    if (!progress && q.terminal_only && !IsTerminal(*after)) continue;
    if (!q.approval_ids.empty() &&
        std::find(q.approval_ids.begin(), q.approval_ids.end(),
                  e.approval_id) == q.approval_ids.end()) {
      continue;
    }
    const Approval& a = approvals_.at(e.approval_id);
    if (q.requester && a.requester != *q.requester) continue;
    ApprovalEvent event{e.seq,
                        e.type,
                        e.actor,
                        e.occurred_at,
                        WithEvidence(SnapshotAt(a, e.type)),
                        std::nullopt,
                        0};
    if (reviewed) {
      std::optional<ReviewedDetails> r =
          ParseReviewDetails(e.actor, e.occurred_at, e.details_json);
      if (!r.has_value()) {
        return absl::DataLossError(
            absl::StrCat("audit event ", e.seq, ": unreadable review details"));
      }
      event.review = std::move(r->review);
      event.approvals_missing = r->approvals_missing;
    }
    out.push_back(std::move(event));
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
