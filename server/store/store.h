// ApprovalStore: durable state of approvals and the audit chain.
//
// Contract shared by every implementation (tests/store/store_contract.h runs
// the same suite against each):
// - Every state change and its audit event commit atomically; a method
//   returns OK only after its change is durable.
// - Audit events get seq 1, 2, 3, ... in commit order with no gaps, chained
//   by hash (audit_chain.h), even with concurrent writers (and, for
//   PostgresStore, several processes on one database).
// - Every write is planned by the domain (transition.h: PlanCreate,
//   PlanReview, PlanCancel, PlanExpire, PlanEscalate) from the approval as
//   the store read it while holding it, against the store's own clock
//   (PostgresStore: the database's now()); the store only applies the plan. So
//   concurrent reviewers are counted exactly once each and exactly one of them
//   completes the quorum, and both stores agree by construction.
// - Reviews are append-only: one per (approval, reviewer), never changed.
// - Errors: NOT_FOUND (unknown id), FAILED_PRECONDITION (terminal or
//   expired), PERMISSION_DENIED (self-approval, or a reviewer outside the
//   rule's groups and, once escalated, its escalate_to groups),
//   ALREADY_EXISTS (a second review by the same person, or
//   an idempotency key reused with different content), UNAVAILABLE (the
//   database cannot be reached or the commit outcome is unknown: retry).
//   Decide returns PERMISSION_DENIED and its ALREADY_EXISTS only after the
//   refusal's kDecisionRefused audit event is committed.
// - Stored approvals carry only what NewApproval holds: masked previews,
//   never raw parameters.
// - Every audit event is sealed (audit_chain.h SealEvent) with the store's
//   audit signer before it is written.
// - Every Approval a method returns in state kApproved carries its evidence
//   (approval.h): its own created, reviewed and approved audit events, read
//   in the same transaction as the row.
// All methods are thread-safe.
#ifndef APPROVAL_SERVER_STORE_STORE_H_
#define APPROVAL_SERVER_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/domain/approval.h"
#include "server/domain/audit_chain.h"
#include "server/domain/transition.h"

namespace approval {

struct CreateResult {
  Approval approval;
  bool created = false;  // false: an idempotent repeat returned the original
};

struct ListQuery {
  std::optional<State> state;            // nullopt: every state
  std::optional<std::string> requester;  // only this requester's approvals
  int page_size = 50;
  // Keyset position: return approvals strictly older than this one
  // (created_at, id), newest first. Empty: from the newest.
  std::string page_token;
};

struct ApprovalPage {
  std::vector<Approval> approvals;
  std::string next_page_token;  // empty on the last page
};

// Which stream events to read. State-changing events, and the progress
// events kReviewed and kEscalated when include_reviewed (kDecisionRefused
// is audit-only).
struct EventQuery {
  int64_t after_cursor = 0;                                    // exclusive
  int64_t up_to_cursor = std::numeric_limits<int64_t>::max();  // inclusive
  std::vector<std::string> approval_ids;  // empty: every approval
  std::optional<std::string> requester;   // only this requester's approvals
  bool terminal_only = false;             // only events that end an approval
  // Also kReviewed events (with ApprovalEvent::review) and kEscalated
  // events, even with terminal_only. Default false.
  bool include_reviewed = false;
  int limit = 500;
};

// Which audit events to export (every event type, refusals and reviews
// included).
struct AuditQuery {
  std::string approval_id;          // empty: every approval
  std::string actor;                // empty: every actor
  std::optional<absl::Time> from;   // inclusive
  std::optional<absl::Time> until;  // exclusive
  int64_t after_seq = 0;            // exclusive; for paging
  int limit = 500;
};

// What one commit of this store wrote, handed to the commit listener.
struct CommittedEvents {
  int64_t first_seq = 0;  // every audit seq in [first_seq, last_seq] was
  int64_t last_seq = 0;   // written by this commit (refusals/reviews included)
  // The stream events among them (those Events() returns with
  // include_reviewed, as it would return them), ascending.
  std::vector<ApprovalEvent> events;
};
using CommitListener = std::function<void(const CommittedEvents&)>;

// Adds `plan` (transition.h), committed as the audit events ending at
// `last_seq` at store time `at`, to `c`: widens its seq range and appends its
// stream events, each with the approval as Events() returns it (kCreated: the
// pending snapshot; later events: plan.after, which must carry its evidence
// when approved). Plans must be added in seq order.
void AddCommitted(const Transition& plan, int64_t last_seq, absl::Time at,
                  CommittedEvents& c);

class ApprovalStore {
 public:
  virtual ~ApprovalStore() = default;

  // Sets the function called after each commit that wrote audit events, on
  // the committing thread, after the commit is durable and before the
  // writer is answered; it replaces any earlier one (null: none). Calls from
  // different threads may arrive out of seq order. The listener must not
  // block or call back into the store. Thread-safe, but a commit racing with
  // the change may still reach the old listener: set it before the first
  // write. A store that wraps another (a decorator) overrides this to hand
  // the listener to the store that commits.
  virtual void SetCommitListener(CommitListener listener) {
    auto shared =
        listener ? std::make_shared<const CommitListener>(std::move(listener))
                 : nullptr;
    absl::MutexLock lock(&listener_mu_);
    listener_ = std::move(shared);
  }

  // Stores a new pending approval (expires_at = store now + ttl) and its
  // kCreated event; a requirement with outcome kAutoApprove / kAutoDeny
  // also moves it to kApproved / kDenied (actor kPolicyActor) in the same
  // transaction. With a non-empty idempotency key already used by the same
  // requester: the original approval (created=false) if its
  // request_fingerprint matches, else ALREADY_EXISTS.
  virtual absl::StatusOr<CreateResult> Create(const NewApproval& req) = 0;

  virtual absl::StatusOr<Approval> Get(const std::string& id) = 0;
  virtual absl::StatusOr<ApprovalPage> List(const ListQuery& q) = 0;

  // Applies PlanReview (transition.h): a review and its kReviewed event
  // and, when it completes the quorum or is a deny that ends the approval,
  // the state change (one more event, decided_by = this reviewer). Returns
  // the last event written: kReviewed while the approval stays pending,
  // else kApproved / kDenied.
  virtual absl::StatusOr<ApprovalEvent> Decide(const DecideInput& in) = 0;

  // The requester withdraws a pending approval.
  virtual absl::StatusOr<ApprovalEvent> Cancel(const std::string& id,
                                               const std::string& actor,
                                               const std::string& reason) = 0;

  // Moves up to `limit` pending approvals whose expiry has passed to
  // kExpired, each with its event. Safe to run from several processes.
  virtual absl::StatusOr<std::vector<ApprovalEvent>> ExpireDue(int limit) = 0;

  // Applies PlanEscalate (transition.h) to up to `limit` pending approvals
  // whose escalation is due (not yet escalated, not yet expired), each with
  // its kEscalated event; returns those events. Each approval escalates at
  // most once, also with several processes sweeping one database.
  virtual absl::StatusOr<std::vector<ApprovalEvent>> EscalateDue(int limit) = 0;

  // State-changing events matching `q`, ascending by cursor, at most q.limit.
  virtual absl::StatusOr<std::vector<ApprovalEvent>> Events(
      const EventQuery& q) = 0;

  // The highest committed cursor (0 when there are no events).
  virtual absl::StatusOr<int64_t> LatestCursor() = 0;

  virtual absl::StatusOr<int64_t> CountPending() = 0;

  // Audit events matching `q`, ascending by seq, at most q.limit.
  virtual absl::StatusOr<std::vector<AuditEvent>> QueryAudit(
      const AuditQuery& q) = 0;

  // Every audit event with seq > after_seq, ascending, at most `limit`
  // (including kDecisionRefused and kReviewed), for verification.
  absl::StatusOr<std::vector<AuditEvent>> AuditEvents(int64_t after_seq,
                                                      int limit) {
    AuditQuery q;
    q.after_seq = after_seq;
    q.limit = limit;
    return QueryAudit(q);
  }

  // OK when the store can serve requests right now.
  virtual absl::Status Ping() = 0;

 protected:
  // Implementations call this after each durable commit that wrote audit
  // events (c.last_seq > 0; does nothing for c.last_seq == 0).
  void NotifyCommitted(const CommittedEvents& c) {
    if (c.last_seq <= 0) return;
    std::shared_ptr<const CommitListener> listener;
    {
      absl::MutexLock lock(&listener_mu_);
      listener = listener_;
    }
    if (listener != nullptr) (*listener)(c);
  }

 private:
  absl::Mutex listener_mu_;
  std::shared_ptr<const CommitListener> listener_ ABSL_GUARDED_BY(listener_mu_);
};

// The end of the audit chain as one broker saw it: publish it somewhere
// the database's users cannot write (a log, a ticket, a witness) and give
// it back to VerifyAuditLog to prove that nothing was cut off since.
struct AuditHead {
  int64_t seq = 0;   // 0: the empty chain
  std::string hash;  // 32 raw bytes (GenesisHash() for seq 0)
};

// A head from its parts as a client or operator gives them: seq and the
// hash in lower-case hex. INVALID_ARGUMENT naming the bad part
// (expected_head_seq / expected_head_hash).
absl::StatusOr<AuditHead> ParseAuditHead(uint64_t seq,
                                         absl::string_view hash_hex);
// The same from "SEQ:HASH" (as `audit verify --expect-head` takes it).
absl::StatusOr<AuditHead> ParseAuditHeadText(absl::string_view text);

struct AuditVerifyOptions {
  // A head recorded earlier: the chain must still contain that event with
  // that hash.
  std::optional<AuditHead> expected_head;
};

struct AuditReport {
  int64_t events_verified = 0;
  int64_t unsigned_events = 0;  // legacy prefix from before signing
  AuditHead head;               // the last verified event
  std::string head_key_id;      // and its seal
  std::string head_signature;   // 64 raw bytes
  int64_t approvals_checked = 0;
  // Empty when everything verified; else the first broken event, then
  // every approval whose row disagrees with the replayed chain.
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

// Verifies the whole audit log of `store`:
// - the hash chain, in pages, and every event's signature by a key in
//   `keys` (audit_chain.h), up to LatestCursor() (events cut off the end);
// - options.expected_head, if given, against the chain;
// - every approval row and its reviews against the state the chain replays
//   to (audit_proof.h AuditReplay).
// A problem found is in the report; the status is not OK only when the
// store could not be read (e.g. UNAVAILABLE).
absl::StatusOr<AuditReport> VerifyAuditLog(
    ApprovalStore& store, const AuditKeyring& keys,
    const AuditVerifyOptions& options = {});

// VerifyAuditLog as one status: OK with the number of verified events, or
// DATA_LOSS naming the first problem (and how many there are).
absl::StatusOr<int64_t> VerifyAuditChain(ApprovalStore& store,
                                         const AuditKeyring& keys);

}  // namespace approval

#endif  // APPROVAL_SERVER_STORE_STORE_H_
