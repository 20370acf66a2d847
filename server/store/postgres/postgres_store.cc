#include "server/store/postgres/postgres_store.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "pqxx/nontransaction"
#include "pqxx/prepared_statement"
#include "pqxx/result"
#include "pqxx/transaction"
#include "server/domain/audit_chain.h"
#include "server/domain/audit_details.h"
#include "server/domain/transition.h"
#include "server/domain/validation.h"
#include "server/store/error_detail.h"
#include "server/store/page_token.h"
#include "server/store/postgres/connection_pool.h"
#include "server/store/postgres/conninfo.h"
#include "server/store/postgres/pg_errors.h"

namespace approval {
namespace {

using pg_internal::ConnectionPool;

constexpr int kMaxAttempts = 3;
constexpr int kMaxPageSize = 500;

// Timestamps cross the wire as integer microseconds since the Unix epoch, so
// that round trips are exact (the audit hash covers occurred_at_us).
// extract(epoch ...) is numeric in PostgreSQL 15: no floating point involved.
std::string MicrosOf(absl::string_view column) {
  return absl::StrCat("(extract(epoch FROM ", column, ") * 1000000)::bigint");
}
std::string TimeFromMicros(absl::string_view param) {
  return absl::StrCat("(timestamptz 'epoch' + ", param,
                      "::bigint * interval '1 microsecond')");
}

// The approval columns ApprovalFromRow reads, in its order, from alias `a`.
const std::string& ApprovalColumns() {
  static const std::string* const kColumns = new std::string(absl::StrCat(
      "a.id::text, a.action, a.resource, a.parameters_preview, "
      "a.justification, "
      "a.requester, a.idempotency_key, a.action_digest, "
      "a.request_fingerprint, a.state, ",
      MicrosOf("a.created_at"), ", ", MicrosOf("a.expires_at"), ", ",
      MicrosOf("a.decided_at"),
      ", a.decided_by, a.decision_comment, a.on_behalf_of, a.policy_rule, "
      "a.outcome, a.reviewer_groups, a.approvals_required, a.deny_ends, "
      "a.execution_window_us"));
  return *kColumns;
}
constexpr int kApprovalColumnCount = 22;

std::string GroupsJson(const std::vector<std::string>& groups) {
  return nlohmann::json(groups).dump();
}

absl::StatusOr<Approval> ApprovalFromRow(const pqxx::row& r, int first) {
  Approval a;
  a.id = r[first + 0].as<std::string>();
  a.action = r[first + 1].as<std::string>();
  a.resource = r[first + 2].as<std::string>();
  a.parameters_preview = r[first + 3].as<std::string>();
  a.justification = r[first + 4].as<std::string>();
  a.requester = r[first + 5].as<std::string>();
  a.idempotency_key = r[first + 6].as<std::string>();
  a.action_digest = r[first + 7].as<std::string>();
  a.request_fingerprint = r[first + 8].as<std::string>();
  const std::string state = r[first + 9].as<std::string>();
  std::optional<State> parsed = ParseState(state);
  if (!parsed.has_value()) {
    return absl::DataLossError(absl::StrCat("approval ", a.id,
                                            " has unknown state \"", state,
                                            "\" in the database"));
  }
  a.state = *parsed;
  a.created_at = absl::FromUnixMicros(r[first + 10].as<int64_t>());
  a.expires_at = absl::FromUnixMicros(r[first + 11].as<int64_t>());
  if (!r[first + 12].is_null()) {
    a.decided_at = absl::FromUnixMicros(r[first + 12].as<int64_t>());
  }
  a.decided_by = r[first + 13].as<std::string>();
  a.decision_comment = r[first + 14].as<std::string>();
  a.on_behalf_of = r[first + 15].as<std::string>();
  Requirement& req = a.requirement;
  req.rule = r[first + 16].as<std::string>();
  const std::string outcome = r[first + 17].as<std::string>();
  std::optional<Outcome> parsed_outcome = ParseOutcome(outcome);
  nlohmann::json groups = nlohmann::json::parse(
      r[first + 18].as<std::string>(), nullptr, /*allow_exceptions=*/false);
  if (!parsed_outcome.has_value() || !groups.is_array()) {
    return absl::DataLossError(absl::StrCat(
        "approval ", a.id, " has an unreadable requirement in the database"));
  }
  req.outcome = *parsed_outcome;
  for (const nlohmann::json& g : groups) {
    if (!g.is_string()) {
      return absl::DataLossError(
          absl::StrCat("approval ", a.id, " has an unreadable reviewer group"));
    }
    req.reviewer_groups.push_back(g.get<std::string>());
  }
  req.approvals_required = r[first + 19].as<int>();
  req.deny_ends = r[first + 20].as<bool>();
  req.execution_window = absl::Microseconds(r[first + 21].as<int64_t>());
  return a;
}

// The columns AuditEventFromRow reads after seq, approval_id::text, type,
// actor and occurred_at (as micros).
constexpr char kAuditEventTail[] =
    "details, encode(prev_hash, 'hex'), encode(hash, 'hex'), key_id, "
    "encode(signature, 'hex')";

absl::StatusOr<AuditEvent> AuditEventFromRow(const pqxx::row& r) {
  AuditEvent e;
  e.seq = r[0].as<int64_t>();
  e.approval_id = r[1].as<std::string>();
  const std::string type = r[2].as<std::string>();
  std::optional<EventType> parsed = ParseEventType(type);
  if (!parsed.has_value()) {
    return absl::DataLossError(
        absl::StrCat("audit event ", e.seq, ": unknown type \"", type, "\""));
  }
  e.type = *parsed;
  e.actor = r[3].as<std::string>();
  e.occurred_at = absl::FromUnixMicros(r[4].as<int64_t>());
  e.details_json = r[5].as<std::string>();
  e.prev_hash = absl::HexStringToBytes(r[6].as<std::string>());
  e.hash = absl::HexStringToBytes(r[7].as<std::string>());
  e.key_id = r[8].as<std::string>();
  if (!r[9].is_null()) {
    e.signature = absl::HexStringToBytes(r[9].as<std::string>());
  }
  return e;
}

// A uuid[] literal of the ids (validated UUIDs: nothing to quote).
std::string UuidArray(const std::map<std::string, Approval*>& by_id) {
  return absl::StrCat("{",
                      absl::StrJoin(by_id, ",",
                                    [](std::string* out, const auto& entry) {
                                      out->append(entry.first);
                                    }),
                      "}");
}

// Fills in the evidence (audit_proof.h) of the approved ones among
// `approvals`, in one query.
absl::Status LoadEvidence(pqxx::transaction_base& tx,
                          const std::vector<Approval*>& approvals) {
  std::map<std::string, Approval*> by_id;
  for (Approval* a : approvals) {
    if (a->state == State::kApproved) {
      a->evidence.clear();
      by_id[a->id] = a;
    }
  }
  if (by_id.empty()) return absl::OkStatus();
  pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT seq, approval_id::text, type, actor, ",
                   MicrosOf("occurred_at"), ", ", kAuditEventTail,
                   " FROM audit_events WHERE approval_id = ANY($1::uuid[]) "
                   "AND type IN ('created', 'reviewed', 'approved') "
                   "ORDER BY seq"),
      UuidArray(by_id));
  for (const pqxx::row& row : r) {
    absl::StatusOr<AuditEvent> e = AuditEventFromRow(row);
    if (!e.ok()) return e.status();
    by_id.at(e->approval_id)->evidence.push_back(*std::move(e));
  }
  return absl::OkStatus();
}

// Fills in the reviews of `approvals` (in one query), oldest first, and the
// evidence of the approved ones.
absl::Status LoadReviews(pqxx::transaction_base& tx,
                         const std::vector<Approval*>& approvals) {
  if (approvals.empty()) return absl::OkStatus();
  std::map<std::string, Approval*> by_id;
  for (Approval* a : approvals) by_id[a->id] = a;
  pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT approval_id::text, reviewer, verdict, comment, ",
                   MicrosOf("reviewed_at"), ", relay, platform_user",
                   " FROM reviews WHERE approval_id = ANY($1::uuid[]) "
                   "ORDER BY audit_seq"),
      UuidArray(by_id));
  for (const pqxx::row& row : r) {
    const std::string id = row[0].as<std::string>();
    std::optional<Verdict> verdict = ParseVerdict(row[2].as<std::string>());
    if (!verdict) {
      return absl::DataLossError(absl::StrCat(
          "approval ", id, " has a review with an unreadable verdict"));
    }
    by_id.at(id)->reviews.push_back(
        Review{row[1].as<std::string>(), *verdict, row[3].as<std::string>(),
               absl::FromUnixMicros(row[4].as<int64_t>()),
               row[5].as<std::string>(), row[6].as<std::string>()});
  }
  return LoadEvidence(tx, approvals);
}

absl::Status LoadReviews(pqxx::transaction_base& tx,
                         std::vector<Approval>& approvals) {
  std::vector<Approval*> all;
  for (Approval& a : approvals) all.push_back(&a);
  return LoadReviews(tx, all);
}

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(
      absl::StrCat("approval ", id.substr(0, 64), " not found"));
}

// Positional parameters for statements whose shape depends on the query.
class SqlParams final {
 public:
  // Adds a value; returns its placeholder ("$3").
  std::string Add(std::string value) {
    values_.push_back(std::move(value));
    return absl::StrCat("$", values_.size());
  }
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql,
                  const SqlParams& params) {
  return tx.exec_params(sql,
                        pqxx::prepare::make_dynamic_params(params.values()));
}

// Per-attempt state a transaction body reports back to Transact.
class TxAttempt final {
 public:
  // Commits `tx`. From here on a lost connection means the outcome is
  // unknown, so the attempt must not be repeated.
  void Commit(pqxx::transaction_base& tx) {
    commit_started_ = true;
    tx.commit();
  }
  bool commit_started() const { return commit_started_; }

 private:
  bool commit_started_ = false;
};

using TxBody = std::function<absl::Status(pqxx::connection_base&, TxAttempt&)>;

// Runs `body` on a borrowed connection: the one place where database
// exceptions become statuses. Runs it again, up to kMaxAttempts in all, when
// the transaction certainly did not commit and another try may succeed: a
// conflict with a concurrent transaction, or a pooled connection that went
// stale while idle (say, the server restarted).
absl::Status Transact(ConnectionPool& pool, absl::string_view context,
                      const TxBody& body) {
  absl::Status last;
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    absl::StatusOr<ConnectionPool::Lease> lease = pool.Borrow();
    if (!lease.ok()) {
      return WithDatabaseDetail(
          absl::Status(lease.status().code(),
                       absl::StrCat(context, ": ", lease.status().message())),
          DatabaseDetail(lease.status()));
    }
    TxAttempt tx_attempt;
    try {
      return body(lease->conn(), tx_attempt);
    } catch (...) {
      pg_internal::PgFailure failure = pg_internal::ClassifyCurrentException(
          context, tx_attempt.commit_started());
      if (failure.connection_lost) lease->MarkLost();
      const bool retry =
          failure.safe_to_retry &&
          (failure.conflict || (failure.connection_lost && lease->reused()));
      if (!retry) return failure.status;
      last = failure.status;
    }
  }
  return last;
}

// The audit_chain_head lock is taken after the approval change and held until
// commit, so seq order is commit order and a reader that sees seq N sees every
// seq below it.
AuditEvent AppendEvent(pqxx::transaction_base& tx, const TokenSigner& signer,
                       const std::string& id, EventType type,
                       const std::string& actor, std::string details_json,
                       int64_t now_us) {
  pqxx::row head = tx.exec1(
      "SELECT last_seq, encode(last_hash, 'hex') FROM audit_chain_head "
      "FOR UPDATE");
  AuditEvent e;
  e.seq = head[0].as<int64_t>() + 1;
  e.approval_id = id;
  e.type = type;
  e.actor = actor;
  e.occurred_at = absl::FromUnixMicros(now_us);
  e.details_json = std::move(details_json);
  e.prev_hash = absl::HexStringToBytes(head[1].as<std::string>());
  e.hash = ChainHash(e.prev_hash, e);
  SealEvent(signer, e);
  const std::string hash_hex = absl::BytesToHexString(e.hash);
  tx.exec_params0(
      absl::StrCat("INSERT INTO audit_events (seq, approval_id, type, actor, "
                   "occurred_at, details, prev_hash, hash, key_id, signature) "
                   "VALUES ($1, $2::uuid, $3, $4, ",
                   TimeFromMicros("$5"),
                   ", $6, decode($7, 'hex'), decode($8, 'hex'), $9, "
                   "decode($10, 'hex'))"),
      e.seq, e.approval_id, std::string(EventTypeName(e.type)), e.actor, now_us,
      e.details_json, absl::BytesToHexString(e.prev_hash), hash_hex, e.key_id,
      absl::BytesToHexString(e.signature));
  tx.exec_params0(
      "UPDATE audit_chain_head SET last_seq = $1, last_hash = decode($2, "
      "'hex')",
      e.seq, hash_hex);
  return e;
}

ApprovalEvent ToApprovalEvent(const AuditEvent& e, Approval approval) {
  ApprovalEvent out;
  out.cursor = e.seq;
  out.type = e.type;
  out.actor = e.actor;
  out.occurred_at = e.occurred_at;
  out.approval = std::move(approval);
  return out;
}

// Locks approval `id` for the rest of the transaction; nullopt if there is
// none. `now_us` receives the transaction's now().
absl::StatusOr<std::optional<Approval>> LockApproval(pqxx::transaction_base& tx,
                                                     const std::string& id,
                                                     int64_t& now_us) {
  pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", ApprovalColumns(), ", ", MicrosOf("now()"),
                   " FROM approvals a WHERE a.id = $1::uuid FOR UPDATE"),
      id);
  if (r.empty()) return std::optional<Approval>();
  now_us = r[0][kApprovalColumnCount].as<int64_t>();
  absl::StatusOr<Approval> a = ApprovalFromRow(r[0], 0);
  if (!a.ok()) return a.status();
  return std::optional<Approval>(*std::move(a));
}

// The transaction's now(): the store's clock for every plan it asks for.
int64_t TxNowMicros(pqxx::transaction_base& tx) {
  return tx.exec1(absl::StrCat("SELECT ", MicrosOf("now()")))[0].as<int64_t>();
}

std::optional<int64_t> OptionalMicros(const std::optional<absl::Time>& t) {
  if (!t.has_value()) return std::nullopt;
  return absl::ToUnixMicros(*t);
}

// Inserts `a`, a new approval as PlanCreate made it; false (nothing
// written) when its requester already used its idempotency key. ON
// CONFLICT waits for a concurrent holder of the key to commit first.
bool InsertApproval(pqxx::transaction_base& tx, const Approval& a) {
  const Requirement& req = a.requirement;
  pqxx::result inserted = tx.exec_params(
      absl::StrCat(
          "INSERT INTO approvals (id, action, resource, parameters_preview, "
          "justification, requester, idempotency_key, action_digest, "
          "request_fingerprint, state, created_at, expires_at, decided_at, "
          "decided_by, decision_comment, on_behalf_of, policy_rule, outcome, "
          "reviewer_groups, approvals_required, deny_ends, "
          "execution_window_us) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, "
          "$8, $9, $10, ",
          TimeFromMicros("$11"), ", ", TimeFromMicros("$12"), ", ",
          TimeFromMicros("$13"),
          ", $14, $15, $16, $17, $18, $19, $20, $21, $22) "
          "ON CONFLICT (requester, idempotency_key) "
          "WHERE idempotency_key <> '' DO NOTHING RETURNING 1"),
      a.id, a.action, a.resource, a.parameters_preview, a.justification,
      a.requester, a.idempotency_key, a.action_digest, a.request_fingerprint,
      std::string(StateName(a.state)), absl::ToUnixMicros(a.created_at),
      absl::ToUnixMicros(a.expires_at), OptionalMicros(a.decided_at),
      a.decided_by, a.decision_comment, a.on_behalf_of, req.rule,
      std::string(OutcomeName(req.outcome)), GroupsJson(req.reviewer_groups),
      req.approvals_required, req.deny_ends,
      absl::ToInt64Microseconds(req.execution_window));
  return !inserted.empty();
}

// Writes the terminal state of `a` (after a plan that finishes it).
void UpdateFinished(pqxx::transaction_base& tx, const Approval& a) {
  tx.exec_params0(absl::StrCat("UPDATE approvals SET state = $2, decided_at = ",
                               TimeFromMicros("$3"),
                               ", decided_by = $4, decision_comment = $5 "
                               "WHERE id = $1::uuid"),
                  a.id, std::string(StateName(a.state)),
                  OptionalMicros(a.decided_at), a.decided_by,
                  a.decision_comment);
}

// Appends the events of `plan` (transition.h), chained and sealed, and its
// review with the seq of its kReviewed event. The caller has written the
// row. Returns the last event written.
AuditEvent WriteEvents(pqxx::transaction_base& tx, const TokenSigner& signer,
                       const Transition& plan, int64_t now_us) {
  AuditEvent last;
  for (const PlannedEvent& planned : plan.events) {
    last = AppendEvent(tx, signer, plan.after.id, planned.type, planned.actor,
                       planned.details_json, now_us);
    if (planned.type != EventType::kReviewed || !plan.review.has_value()) {
      continue;
    }
    const Review& r = *plan.review;
    tx.exec_params0(
        absl::StrCat("INSERT INTO reviews (approval_id, reviewer, verdict, "
                     "comment, reviewed_at, audit_seq, relay, platform_user) "
                     "VALUES ($1::uuid, $2, $3, $4, ",
                     TimeFromMicros("$5"), ", $6, $7, $8)"),
        plan.after.id, r.reviewer, std::string(VerdictName(r.verdict)),
        r.comment, absl::ToUnixMicros(r.reviewed_at), last.seq, r.relay,
        r.platform_user);
  }
  return last;
}

// The approval (with its reviews) that holds the idempotency key of `req`.
absl::StatusOr<Approval> ReadByIdempotencyKey(pqxx::transaction_base& tx,
                                              const NewApproval& req) {
  pqxx::result existing = tx.exec_params(
      absl::StrCat("SELECT ", ApprovalColumns(),
                   " FROM approvals a WHERE a.requester = $1 AND "
                   "a.idempotency_key = $2 AND a.idempotency_key <> ''"),
      req.requester, req.idempotency_key);
  if (existing.empty()) {
    return absl::AbortedError(absl::StrCat(
        "Create: idempotency_key \"", req.idempotency_key,
        "\" conflicted with a request that is not visible; retry"));
  }
  absl::StatusOr<Approval> a = ApprovalFromRow(existing[0], 0);
  if (!a.ok()) return a.status();
  if (absl::Status s = LoadReviews(tx, {&*a}); !s.ok()) return s;
  return a;
}

// One row of PostgresStore::Events' query: seq, type, actor, occurred_at
// (micros), then ApprovalColumns(). After kCreated the approval is shown as
// it was created (the row has moved on since; terminal rows never change).
absl::StatusOr<ApprovalEvent> ApprovalEventFromRow(const pqxx::row& row) {
  absl::StatusOr<Approval> a = ApprovalFromRow(row, 4);
  if (!a.ok()) return a.status();
  const std::string type = row[1].as<std::string>();
  std::optional<EventType> parsed = ParseEventType(type);
  if (!parsed.has_value()) {
    return absl::DataLossError(absl::StrCat(
        "audit event ", row[0].as<int64_t>(), ": unknown type \"", type, "\""));
  }
  if (*parsed == EventType::kCreated) {
    a->state = State::kPending;
    a->decided_at.reset();
    a->decided_by.clear();
    a->decision_comment.clear();
  }
  ApprovalEvent e;
  e.cursor = row[0].as<int64_t>();
  e.type = *parsed;
  e.actor = row[2].as<std::string>();
  e.occurred_at = absl::FromUnixMicros(row[3].as<int64_t>());
  e.approval = *std::move(a);
  if (e.type == EventType::kReviewed) {
    const std::string details = row[row.size() - 1].as<std::string>();
    std::optional<ReviewedDetails> r =
        ParseReviewDetails(e.actor, e.occurred_at, details);
    if (!r.has_value()) {
      return absl::DataLossError(absl::StrCat("audit event ", e.cursor,
                                              ": unreadable review details"));
    }
    e.review = std::move(r->review);
    e.approvals_missing = r->approvals_missing;
  }
  return e;
}

std::string PageToken(const Approval& a) {
  return ApprovalPageToken(a.created_at, a.id);
}

std::string TypeList(bool terminal_only, bool include_reviewed) {
  std::vector<std::string> names;
  for (EventType t :
       {EventType::kCreated, EventType::kReviewed, EventType::kApproved,
        EventType::kDenied, EventType::kExpired, EventType::kCancelled}) {
    if (terminal_only && t == EventType::kCreated) continue;
    if (!include_reviewed && t == EventType::kReviewed) continue;
    names.push_back(absl::StrCat("'", std::string(EventTypeName(t)), "'"));
  }
  return absl::StrJoin(names, ", ");
}

}  // namespace

PostgresStore::PostgresStore(std::unique_ptr<ConnectionPool> pool,
                             std::shared_ptr<const TokenSigner> audit_signer)
    : pool_(std::move(pool)), signer_(std::move(audit_signer)) {}

PostgresStore::~PostgresStore() = default;

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(
    const PostgresOptions& options) {
  if (options.url.empty()) {
    return absl::InvalidArgumentError("url: must not be empty");
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pool_size: ", options.pool_size, ", must be at least 1"));
  }
  if (options.statement_timeout < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "statement_timeout: ", absl::FormatDuration(options.statement_timeout),
        ", must be at least 1ms"));
  }
  if (options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "connect_timeout: ", absl::FormatDuration(options.connect_timeout),
        ", must be positive"));
  }
  absl::StatusOr<bool> has_timeout =
      ConninfoHasParam(options.url, "connect_timeout");
  if (!has_timeout.ok()) return has_timeout.status();

  ConnectionPool::Options pool_options;
  pool_options.conninfo = options.url;
  if (!*has_timeout) {
    pool_options.conninfo =
        WithConninfoParam(options.url, "connect_timeout",
                          absl::StrCat(absl::ToInt64Seconds(absl::Ceil(
                              options.connect_timeout, absl::Seconds(1)))));
  }
  pool_options.size = options.pool_size;
  pool_options.statement_timeout = options.statement_timeout;
  pool_options.borrow_timeout =
      options.connect_timeout + 2 * options.statement_timeout;
  auto pool = std::make_unique<ConnectionPool>(std::move(pool_options));
  {
    absl::StatusOr<ConnectionPool::Lease> first = pool->Borrow();
    if (!first.ok()) return first.status();
  }
  return std::unique_ptr<PostgresStore>(
      new PostgresStore(std::move(pool), options.audit_signer));
}

absl::Status PostgresStore::CheckWritable() const {
  if (signer_ == nullptr) {
    return absl::FailedPreconditionError(
        "this store was opened without an audit signer: read-only");
  }
  return absl::OkStatus();
}

absl::StatusOr<CreateResult> PostgresStore::Create(const NewApproval& req) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  CreateResult result;
  absl::Status s = Transact(
      *pool_, "Create",
      [&](pqxx::connection_base& c, TxAttempt& attempt) -> absl::Status {
        pqxx::work tx(c);
        const int64_t now_us = TxNowMicros(tx);
        Transition plan =
            PlanCreate(req, NewUuid(), absl::FromUnixMicros(now_us));
        if (!InsertApproval(tx, plan.after)) {
          // The key is taken. ON CONFLICT waited for the other transaction
          // to commit, so this new snapshot sees its row.
          absl::StatusOr<Approval> existing = ReadByIdempotencyKey(tx, req);
          if (!existing.ok()) return existing.status();
          if (absl::Status s = CheckIdempotentRepeat(*existing, req); !s.ok()) {
            return s;
          }
          attempt.Commit(tx);
          result = CreateResult{*std::move(existing), false};
          return absl::OkStatus();
        }
        WriteEvents(tx, *signer_, plan, now_us);
        Approval& a = plan.after;
        if (absl::Status s = LoadEvidence(tx, {&a}); !s.ok()) return s;
        attempt.Commit(tx);
        result = CreateResult{std::move(a), true};
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<Approval> PostgresStore::Get(const std::string& id) {
  if (!ValidateApprovalId(id).ok()) return NotFound(id);
  Approval result;
  absl::Status s = Transact(
      *pool_, "Get", [&](pqxx::connection_base& c, TxAttempt&) -> absl::Status {
        pqxx::read_transaction tx(c);
        pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT ", ApprovalColumns(),
                         " FROM approvals a WHERE a.id = $1::uuid"),
            id);
        if (r.empty()) return NotFound(id);
        absl::StatusOr<Approval> a = ApprovalFromRow(r[0], 0);
        if (!a.ok()) return a.status();
        if (absl::Status s = LoadReviews(tx, {&*a}); !s.ok()) return s;
        result = *std::move(a);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<ApprovalPage> PostgresStore::List(const ListQuery& q) {
  const int page_size = std::clamp(q.page_size, 1, kMaxPageSize);
  SqlParams params;
  std::string sql = absl::StrCat("SELECT ", ApprovalColumns(),
                                 " FROM approvals a WHERE true");
  if (q.state.has_value()) {
    absl::StrAppend(
        &sql, " AND a.state = ", params.Add(std::string(StateName(*q.state))));
  }
  if (q.requester.has_value()) {
    absl::StrAppend(&sql, " AND a.requester = ", params.Add(*q.requester));
  }
  if (!q.page_token.empty()) {
    absl::StatusOr<ApprovalPagePosition> pos =
        ParseApprovalPageToken(q.page_token);
    if (!pos.ok()) return pos.status();
    const std::string at = params.Add(absl::StrCat(pos->created_at_us));
    const std::string id = params.Add(pos->id);
    absl::StrAppend(&sql, " AND (a.created_at, a.id) < (", TimeFromMicros(at),
                    ", ", id, "::uuid)");
  }
  absl::StrAppend(&sql, " ORDER BY a.created_at DESC, a.id DESC LIMIT ",
                  params.Add(absl::StrCat(page_size + 1)));

  ApprovalPage page;
  absl::Status s =
      Transact(*pool_, "List",
               [&](pqxx::connection_base& c, TxAttempt&) -> absl::Status {
                 page = ApprovalPage();
                 pqxx::read_transaction tx(c);
                 pqxx::result r = Exec(tx, sql, params);
                 for (const pqxx::row& row : r) {
                   if (static_cast<int>(page.approvals.size()) == page_size) {
                     page.next_page_token = PageToken(page.approvals.back());
                     break;
                   }
                   absl::StatusOr<Approval> a = ApprovalFromRow(row, 0);
                   if (!a.ok()) return a.status();
                   page.approvals.push_back(*std::move(a));
                 }
                 return LoadReviews(tx, page.approvals);
               });
  if (!s.ok()) return s;
  return page;
}

absl::StatusOr<ApprovalEvent> PostgresStore::Decide(const DecideInput& in) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (!ValidateApprovalId(in.approval_id).ok()) return NotFound(in.approval_id);
  ApprovalEvent result;
  absl::Status s = Transact(
      *pool_, "Decide",
      [&](pqxx::connection_base& c, TxAttempt& attempt) -> absl::Status {
        pqxx::work tx(c);
        int64_t now_us = 0;
        absl::StatusOr<std::optional<Approval>> locked =
            LockApproval(tx, in.approval_id, now_us);
        if (!locked.ok()) return locked.status();
        if (!locked->has_value()) return NotFound(in.approval_id);
        Approval& a = **locked;
        if (absl::Status s = LoadReviews(tx, {&a}); !s.ok()) return s;
        Transition plan = PlanReview(a, in, absl::FromUnixMicros(now_us));
        if (plan.events.empty()) return plan.refusal;  // nothing to write
        if (plan.finishes) UpdateFinished(tx, plan.after);
        AuditEvent e = WriteEvents(tx, *signer_, plan, now_us);
        if (plan.refused()) {
          // The refusal itself is audited; only once it is durable may the
          // caller hear about it.
          attempt.Commit(tx);
          return plan.refusal;
        }
        if (absl::Status s = LoadEvidence(tx, {&plan.after}); !s.ok()) {
          return s;
        }
        attempt.Commit(tx);
        result = ToApprovalEvent(e, std::move(plan.after));
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<ApprovalEvent> PostgresStore::Cancel(const std::string& id,
                                                    const std::string& actor,
                                                    const std::string& reason) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (!ValidateApprovalId(id).ok()) return NotFound(id);
  ApprovalEvent result;
  absl::Status s = Transact(
      *pool_, "Cancel",
      [&](pqxx::connection_base& c, TxAttempt& attempt) -> absl::Status {
        pqxx::work tx(c);
        int64_t now_us = 0;
        absl::StatusOr<std::optional<Approval>> locked =
            LockApproval(tx, id, now_us);
        if (!locked.ok()) return locked.status();
        if (!locked->has_value()) return NotFound(id);
        Approval& a = **locked;
        if (absl::Status s = LoadReviews(tx, {&a}); !s.ok()) return s;
        Transition plan =
            PlanCancel(a, actor, reason, absl::FromUnixMicros(now_us));
        if (plan.refused()) return plan.refusal;
        UpdateFinished(tx, plan.after);
        AuditEvent e = WriteEvents(tx, *signer_, plan, now_us);
        attempt.Commit(tx);
        result = ToApprovalEvent(e, std::move(plan.after));
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<std::vector<ApprovalEvent>> PostgresStore::ExpireDue(int limit) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  std::vector<ApprovalEvent> result;
  if (limit <= 0) return result;
  absl::Status s = Transact(
      *pool_, "ExpireDue",
      [&](pqxx::connection_base& c, TxAttempt& attempt) -> absl::Status {
        result.clear();
        pqxx::work tx(c);
        // SKIP LOCKED: an approval being decided right now is not due for
        // us; several sweepers share the work without waiting on each other.
        pqxx::result due = tx.exec_params(
            absl::StrCat("SELECT ", ApprovalColumns(), ", ", MicrosOf("now()"),
                         " FROM approvals a WHERE a.state = 'pending' AND "
                         "a.expires_at <= now() ORDER BY a.expires_at, a.id "
                         "LIMIT $1 FOR UPDATE SKIP LOCKED"),
            limit);
        if (due.empty()) return absl::OkStatus();
        const int64_t now_us = due[0][kApprovalColumnCount].as<int64_t>();
        std::vector<Approval> approvals;
        std::vector<std::string> ids;
        for (const pqxx::row& row : due) {
          absl::StatusOr<Approval> a = ApprovalFromRow(row, 0);
          if (!a.ok()) return a.status();
          ids.push_back(a->id);
          approvals.push_back(*std::move(a));
        }
        if (absl::Status s = LoadReviews(tx, approvals); !s.ok()) return s;
        std::vector<Transition> plans;
        for (const Approval& a : approvals) {
          plans.push_back(PlanExpire(a, absl::FromUnixMicros(now_us)));
          // The query selected only due approvals under this clock.
          if (plans.back().refused()) return plans.back().refusal;
        }
        // One statement for the whole batch: every plan moves its approval
        // to kExpired at now_us with no decider or comment.
        tx.exec_params0(
            absl::StrCat("UPDATE approvals SET state = $3, decided_at = ",
                         TimeFromMicros("$2"),
                         ", decided_by = '', decision_comment = '' "
                         "WHERE id = ANY($1::uuid[])"),
            absl::StrCat("{", absl::StrJoin(ids, ","), "}"), now_us,
            std::string(StateName(State::kExpired)));
        for (Transition& plan : plans) {
          AuditEvent e = WriteEvents(tx, *signer_, plan, now_us);
          result.push_back(ToApprovalEvent(e, std::move(plan.after)));
        }
        attempt.Commit(tx);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<std::vector<ApprovalEvent>> PostgresStore::Events(
    const EventQuery& q) {
  std::vector<ApprovalEvent> result;
  if (q.limit <= 0 || q.up_to_cursor <= q.after_cursor) return result;
  SqlParams params;
  std::string sql = absl::StrCat(
      "SELECT e.seq, e.type, e.actor, ", MicrosOf("e.occurred_at"), ", ",
      ApprovalColumns(), ", e.details",
      " FROM audit_events e JOIN approvals a ON a.id = e.approval_id"
      " WHERE e.seq > ",
      params.Add(absl::StrCat(q.after_cursor)),
      " AND e.seq <= ", params.Add(absl::StrCat(q.up_to_cursor)),
      " AND e.type IN (", TypeList(q.terminal_only, q.include_reviewed), ")");
  if (!q.approval_ids.empty()) {
    // Validated ids only (hex and dashes), so the array literal needs no
    // quoting and the cast cannot fail; the others match nothing anyway.
    std::vector<std::string> ids;
    for (const std::string& id : q.approval_ids) {
      if (ValidateApprovalId(id).ok()) ids.push_back(id);
    }
    if (ids.empty()) return result;
    absl::StrAppend(&sql, " AND e.approval_id = ANY(",
                    params.Add(absl::StrCat("{", absl::StrJoin(ids, ","), "}")),
                    "::uuid[])");
  }
  if (q.requester.has_value()) {
    absl::StrAppend(&sql, " AND a.requester = ", params.Add(*q.requester));
  }
  absl::StrAppend(&sql, " ORDER BY e.seq LIMIT ",
                  params.Add(absl::StrCat(q.limit)));

  absl::Status s =
      Transact(*pool_, "Events",
               [&](pqxx::connection_base& c, TxAttempt&) -> absl::Status {
                 result.clear();
                 pqxx::read_transaction tx(c);
                 pqxx::result r = Exec(tx, sql, params);
                 for (const pqxx::row& row : r) {
                   absl::StatusOr<ApprovalEvent> e = ApprovalEventFromRow(row);
                   if (!e.ok()) return e.status();
                   result.push_back(*std::move(e));
                 }
                 // Reviews end with the terminal event: those of a created
                 // event's snapshot came later.
                 // One load per approval: a page may hold its kReviewed
                 // events and its terminal event, which share the rest.
                 std::map<std::string, const Approval*> loaded;
                 std::vector<Approval*> terminal;
                 for (ApprovalEvent& e : result) {
                   if (e.type != EventType::kCreated &&
                       loaded.emplace(e.approval.id, &e.approval).second) {
                     terminal.push_back(&e.approval);
                   }
                 }
                 if (absl::Status s = LoadReviews(tx, terminal); !s.ok()) {
                   return s;
                 }
                 for (ApprovalEvent& e : result) {
                   if (e.type == EventType::kCreated) continue;
                   const Approval* first = loaded.at(e.approval.id);
                   if (first == &e.approval) continue;
                   e.approval.reviews = first->reviews;
                   e.approval.evidence = first->evidence;
                 }
                 return absl::OkStatus();
               });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<int64_t> PostgresStore::LatestCursor() {
  int64_t result = 0;
  absl::Status s = Transact(
      *pool_, "LatestCursor",
      [&](pqxx::connection_base& c, TxAttempt&) -> absl::Status {
        pqxx::read_transaction tx(c);
        result =
            tx.exec1("SELECT last_seq FROM audit_chain_head")[0].as<int64_t>();
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<int64_t> PostgresStore::CountPending() {
  int64_t result = 0;
  absl::Status s =
      Transact(*pool_, "CountPending",
               [&](pqxx::connection_base& c, TxAttempt&) -> absl::Status {
                 pqxx::read_transaction tx(c);
                 result = tx.exec1(
                                "SELECT count(*) FROM approvals "
                                "WHERE state = 'pending'")[0]
                              .as<int64_t>();
                 return absl::OkStatus();
               });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<std::vector<AuditEvent>> PostgresStore::QueryAudit(
    const AuditQuery& q) {
  std::vector<AuditEvent> result;
  if (q.limit <= 0) return result;
  SqlParams params;
  std::string sql = absl::StrCat("SELECT seq, approval_id::text, type, actor, ",
                                 MicrosOf("occurred_at"), ", ", kAuditEventTail,
                                 " FROM audit_events WHERE seq > ",
                                 params.Add(absl::StrCat(q.after_seq)));
  if (!q.approval_id.empty()) {
    // An id that is not a UUID matches nothing (and must not fail the cast).
    if (!ValidateApprovalId(q.approval_id).ok()) return result;
    absl::StrAppend(&sql, " AND approval_id = ", params.Add(q.approval_id),
                    "::uuid");
  }
  if (!q.actor.empty()) {
    absl::StrAppend(&sql, " AND actor = ", params.Add(q.actor));
  }
  if (q.from) {
    absl::StrAppend(
        &sql, " AND occurred_at >= ",
        TimeFromMicros(params.Add(absl::StrCat(absl::ToUnixMicros(*q.from)))));
  }
  if (q.until) {
    absl::StrAppend(
        &sql, " AND occurred_at < ",
        TimeFromMicros(params.Add(absl::StrCat(absl::ToUnixMicros(*q.until)))));
  }
  absl::StrAppend(&sql, " ORDER BY seq LIMIT ",
                  params.Add(absl::StrCat(q.limit)));
  absl::Status s =
      Transact(*pool_, "QueryAudit",
               [&](pqxx::connection_base& c, TxAttempt&) -> absl::Status {
                 result.clear();
                 pqxx::read_transaction tx(c);
                 for (const pqxx::row& row : Exec(tx, sql, params)) {
                   absl::StatusOr<AuditEvent> e = AuditEventFromRow(row);
                   if (!e.ok()) return e.status();
                   result.push_back(*std::move(e));
                 }
                 return absl::OkStatus();
               });
  if (!s.ok()) return s;
  return result;
}

absl::Status PostgresStore::Ping() {
  return Transact(*pool_, "Ping",
                  [](pqxx::connection_base& c, TxAttempt&) -> absl::Status {
                    pqxx::nontransaction tx(c);
                    tx.exec("SELECT 1");
                    return absl::OkStatus();
                  });
}

}  // namespace approval
