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
#include "server/store/terminal_cache.h"

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
      "a.execution_window_us, a.escalate_after_us, a.escalate_to, ",
      MicrosOf("a.escalated_at")));
  return *kColumns;
}
constexpr int kApprovalColumnCount = 25;
constexpr int kIdColumn = 0;     // a.id::text
constexpr int kStateColumn = 9;  // a.state

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
  req.escalate_after = absl::Microseconds(r[first + 22].as<int64_t>());
  nlohmann::json escalate_to = nlohmann::json::parse(
      r[first + 23].as<std::string>(), nullptr, /*allow_exceptions=*/false);
  if (!escalate_to.is_array()) {
    return absl::DataLossError(absl::StrCat(
        "approval ", a.id, " has an unreadable escalate_to in the database"));
  }
  for (const nlohmann::json& g : escalate_to) {
    if (!g.is_string()) {
      return absl::DataLossError(absl::StrCat(
          "approval ", a.id, " has an unreadable escalation group"));
    }
    req.escalate_to.push_back(g.get<std::string>());
  }
  if (!r[first + 24].is_null()) {
    a.escalated_at = absl::FromUnixMicros(r[first + 24].as<int64_t>());
  }
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

// The read path: an approval with its reviews and, when approved, its
// evidence, in one statement (so on one snapshot, without a transaction of
// its own: one round trip). Both come as JSON arrays of arrays, decoded by
// ApprovalWithHistoryFromRow.
const std::string& ReadColumns() {
  static const std::string* const kColumns = new std::string(absl::StrCat(
      ApprovalColumns(),
      ", (SELECT coalesce(json_agg(json_build_array(r.reviewer, r.verdict, "
      "r.comment, ",
      MicrosOf("r.reviewed_at"),
      ", r.relay, r.platform_user) ORDER BY r.audit_seq), '[]')::text FROM "
      "reviews r "
      "WHERE r.approval_id = a.id), "
      "CASE WHEN a.state = 'approved' THEN (SELECT "
      "json_agg(json_build_array(e.seq, e.type, e.actor, ",
      MicrosOf("e.occurred_at"),
      ", e.details, encode(e.prev_hash, 'hex'), encode(e.hash, 'hex'), "
      "e.key_id, encode(e.signature, 'hex')) ORDER BY e.seq)::text "
      "FROM audit_events e WHERE e.approval_id = a.id "
      "AND e.type IN ('created', 'reviewed', 'approved')) END"));
  return *kColumns;
}

absl::Status UnreadableHistory(const Approval& a, absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("approval ", a.id, " has ", what, " the store cannot read"));
}

bool IsStringAt(const nlohmann::json& row, size_t i) {
  return row.size() > i && row[i].is_string();
}
bool IsIntegerAt(const nlohmann::json& row, size_t i) {
  return row.size() > i && row[i].is_number_integer();
}

// Decodes the reviews column of ReadColumns into a.reviews.
absl::Status ReviewsFromJson(absl::string_view text, Approval& a) {
  nlohmann::json rows = nlohmann::json::parse(text, nullptr,
                                              /*allow_exceptions=*/false);
  if (!rows.is_array()) return UnreadableHistory(a, "reviews");
  a.reviews.clear();
  a.reviews.reserve(rows.size());
  for (const nlohmann::json& row : rows) {
    if (!row.is_array() || !IsStringAt(row, 0) || !IsStringAt(row, 1) ||
        !IsStringAt(row, 2) || !IsIntegerAt(row, 3) || !IsStringAt(row, 4) ||
        !IsStringAt(row, 5)) {
      return UnreadableHistory(a, "a review");
    }
    std::optional<Verdict> verdict =
        ParseVerdict(row[1].get_ref<const std::string&>());
    if (!verdict) {
      return absl::DataLossError(absl::StrCat(
          "approval ", a.id, " has a review with an unreadable verdict"));
    }
    a.reviews.push_back(
        Review{row[0].get<std::string>(), *verdict, row[2].get<std::string>(),
               absl::FromUnixMicros(row[3].get<int64_t>()),
               row[4].get<std::string>(), row[5].get<std::string>()});
  }
  return absl::OkStatus();
}

// Decodes the evidence column of ReadColumns into a.evidence.
absl::Status EvidenceFromJson(absl::string_view text, Approval& a) {
  nlohmann::json rows = nlohmann::json::parse(text, nullptr,
                                              /*allow_exceptions=*/false);
  if (!rows.is_array()) return UnreadableHistory(a, "evidence");
  a.evidence.clear();
  a.evidence.reserve(rows.size());
  for (const nlohmann::json& row : rows) {
    if (!row.is_array() || !IsIntegerAt(row, 0) || !IsStringAt(row, 1) ||
        !IsStringAt(row, 2) || !IsIntegerAt(row, 3) || !IsStringAt(row, 4) ||
        !IsStringAt(row, 5) || !IsStringAt(row, 6) || !IsStringAt(row, 7) ||
        row.size() <= 8 || !(row[8].is_string() || row[8].is_null())) {
      return UnreadableHistory(a, "an audit event");
    }
    AuditEvent e;
    e.seq = row[0].get<int64_t>();
    e.approval_id = a.id;
    const std::string& type = row[1].get_ref<const std::string&>();
    std::optional<EventType> parsed = ParseEventType(type);
    if (!parsed.has_value()) {
      return absl::DataLossError(
          absl::StrCat("audit event ", e.seq, ": unknown type \"", type, "\""));
    }
    e.type = *parsed;
    e.actor = row[2].get<std::string>();
    e.occurred_at = absl::FromUnixMicros(row[3].get<int64_t>());
    e.details_json = row[4].get<std::string>();
    e.prev_hash = absl::HexStringToBytes(row[5].get_ref<const std::string&>());
    e.hash = absl::HexStringToBytes(row[6].get_ref<const std::string&>());
    e.key_id = row[7].get<std::string>();
    if (row[8].is_string()) {
      e.signature =
          absl::HexStringToBytes(row[8].get_ref<const std::string&>());
    }
    a.evidence.push_back(std::move(e));
  }
  return absl::OkStatus();
}

// One row of ReadColumns: the approval, its reviews and its evidence.
absl::StatusOr<Approval> ApprovalWithHistoryFromRow(const pqxx::row& r) {
  absl::StatusOr<Approval> a = ApprovalFromRow(r, 0);
  if (!a.ok()) return a.status();
  const pqxx::field reviews = r[kApprovalColumnCount];
  if (absl::Status s = ReviewsFromJson(
          absl::string_view(reviews.c_str(), reviews.size()), *a);
      !s.ok()) {
    return s;
  }
  if (a->state == State::kApproved) {
    const pqxx::field evidence = r[kApprovalColumnCount + 1];
    // An approved approval always has at least its created event.
    if (evidence.is_null()) return UnreadableHistory(*a, "no evidence");
    if (absl::Status s = EvidenceFromJson(
            absl::string_view(evidence.c_str(), evidence.size()), *a);
        !s.ok()) {
      return s;
    }
  }
  return a;
}

// Prepared statements of the read path, registered on every pooled
// connection when it is opened (connection_pool.h).
constexpr char kGetStatement[] = "approval_get";

std::string GetSql() {
  return absl::StrCat("SELECT ", ReadColumns(),
                      " FROM approvals a WHERE a.id = $1::uuid");
}

// List's statement for one combination of filters; its parameters come in
// the order state, requester, (page position: created_at_us, id), limit.
std::string ListStatementName(bool by_state, bool by_requester,
                              bool after_position) {
  return absl::StrCat("approval_list_", by_state ? "s" : "",
                      by_requester ? "r" : "", after_position ? "p" : "");
}

std::string ListSql(bool by_state, bool by_requester, bool after_position) {
  SqlParams params;
  std::string sql =
      absl::StrCat("SELECT ", ReadColumns(), " FROM approvals a WHERE true");
  if (by_state) absl::StrAppend(&sql, " AND a.state = ", params.Add(""));
  if (by_requester) {
    absl::StrAppend(&sql, " AND a.requester = ", params.Add(""));
  }
  if (after_position) {
    const std::string at = params.Add("");
    const std::string id = params.Add("");
    absl::StrAppend(&sql, " AND (a.created_at, a.id) < (", TimeFromMicros(at),
                    ", ", id, "::uuid)");
  }
  absl::StrAppend(&sql, " ORDER BY a.created_at DESC, a.id DESC LIMIT ",
                  params.Add(""), "::bigint");
  return sql;
}

std::vector<std::pair<std::string, std::string>> ReadStatements() {
  std::vector<std::pair<std::string, std::string>> statements = {
      {kGetStatement, GetSql()}};
  for (int bits = 0; bits < 8; ++bits) {
    const bool s = bits & 1, r = bits & 2, p = bits & 4;
    statements.emplace_back(ListStatementName(s, r, p), ListSql(s, r, p));
  }
  return statements;
}

// Writes go through the write queue (ApplyBatch), so every body here only
// reads: none commits, and a retry can never apply anything twice.
using TxBody = std::function<absl::Status(pqxx::connection_base&)>;

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
    try {
      return body(lease->conn());
    } catch (...) {
      pg_internal::PgFailure failure = pg_internal::ClassifyCurrentException(
          context, /*commit_started=*/false);
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

// The leader's transaction as each member of a write batch sees it. The
// batch took the audit_chain_head lock first and holds it until commit, so
// seq order is commit order, a reader that sees seq N sees every seq below
// it, and batches of several brokers on one database form one chain.
class BatchTx {
 public:
  BatchTx(pqxx::work& tx, const TokenSigner& signer) : tx(tx), signer(signer) {}

  // Events are appended in memory (AppendEvent) and INSERTed together, in
  // one statement, when a statement needs them: one that reads
  // audit_events or references it, or the end of the batch.
  pqxx::work& WithEvents();

  pqxx::work& tx;  // for statements that neither read nor reference events
  const TokenSigner& signer;
  int64_t now_us = 0;     // the transaction's now(): every plan's clock
  int64_t head_seq = 0;   // the chain head as this batch has advanced it
  std::string head_hash;  // 32 raw bytes
  bool wrote = false;     // the member being applied changed something
  std::vector<AuditEvent> unwritten;  // appended, not yet INSERTed
  CommittedEvents committed;          // for the commit listener
};

pqxx::work& BatchTx::WithEvents() {
  if (unwritten.empty()) return tx;
  SqlParams params;
  std::vector<std::string> rows;
  for (const AuditEvent& e : unwritten) {
    rows.push_back(absl::StrCat(
        "(", params.Add(absl::StrCat(e.seq)), "::bigint, ",
        params.Add(e.approval_id), "::uuid, ",
        params.Add(std::string(EventTypeName(e.type))), ", ",
        params.Add(e.actor), ", ",
        TimeFromMicros(params.Add(absl::StrCat(now_us))), ", ",
        params.Add(e.details_json), ", decode(",
        params.Add(absl::BytesToHexString(e.prev_hash)), ", 'hex'), decode(",
        params.Add(absl::BytesToHexString(e.hash)), ", 'hex'), ",
        params.Add(e.key_id), ", decode(",
        params.Add(absl::BytesToHexString(e.signature)), ", 'hex'))"));
  }
  Exec(tx,
       absl::StrCat("INSERT INTO audit_events (seq, approval_id, type, actor, "
                    "occurred_at, details, prev_hash, hash, key_id, "
                    "signature) VALUES ",
                    absl::StrJoin(rows, ", ")),
       params);
  unwritten.clear();
  return tx;
}

// What applying one member of a batch tells the leader.
struct Applied {
  absl::Status answer;  // what the caller hears once the batch committed
  // The member's writes commit although `answer` is an error: an audited
  // refusal. Otherwise an error with writes fails the member alone.
  bool keep_refusal = false;
};

// A write waiting in PostgresStore's queue.
class PgWrite : public QueuedWrite {
 public:
  explicit PgWrite(absl::string_view context) : context_(context) {}
  // Applies the write inside b's transaction; throws what libpqxx throws.
  // May run more than once (a batch may be applied again without a member
  // that failed): it must overwrite every result it sets.
  virtual Applied Apply(BatchTx& b) = 0;
  absl::string_view context() const { return context_; }

  absl::Status status;  // the outcome, set by the leader

 private:
  const absl::string_view context_;
};

// Appends one event at the batch's chain head, chained and sealed (written
// by the batch's next WithEvents()).
AuditEvent AppendEvent(BatchTx& b, const std::string& id, EventType type,
                       const std::string& actor, std::string details_json) {
  AuditEvent e;
  e.seq = b.head_seq + 1;
  e.approval_id = id;
  e.type = type;
  e.actor = actor;
  e.occurred_at = absl::FromUnixMicros(b.now_us);
  e.details_json = std::move(details_json);
  e.prev_hash = b.head_hash;
  e.hash = ChainHash(e.prev_hash, e);
  SealEvent(b.signer, e);
  b.unwritten.push_back(e);
  b.head_seq = e.seq;
  b.head_hash = e.hash;
  b.wrote = true;
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
// none.
absl::StatusOr<std::optional<Approval>> LockApproval(pqxx::transaction_base& tx,
                                                     const std::string& id) {
  pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", ApprovalColumns(),
                   " FROM approvals a WHERE a.id = $1::uuid FOR UPDATE"),
      id);
  if (r.empty()) return std::optional<Approval>();
  absl::StatusOr<Approval> a = ApprovalFromRow(r[0], 0);
  if (!a.ok()) return a.status();
  return std::optional<Approval>(*std::move(a));
}

std::optional<int64_t> OptionalMicros(const std::optional<absl::Time>& t) {
  if (!t.has_value()) return std::nullopt;
  return absl::ToUnixMicros(*t);
}

// Inserts `a`, a new approval as PlanCreate made it; false (nothing
// written) when its requester already used its idempotency key. ON
// CONFLICT waits for a concurrent holder of the key to commit first.
bool InsertApproval(BatchTx& b, const Approval& a) {
  const Requirement& req = a.requirement;
  pqxx::result inserted = b.tx.exec_params(
      absl::StrCat(
          "INSERT INTO approvals (id, action, resource, parameters_preview, "
          "justification, requester, idempotency_key, action_digest, "
          "request_fingerprint, state, created_at, expires_at, decided_at, "
          "decided_by, decision_comment, on_behalf_of, policy_rule, outcome, "
          "reviewer_groups, approvals_required, deny_ends, "
          "execution_window_us, escalate_after_us, escalate_to, "
          "escalates_at) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, "
          "$8, $9, $10, ",
          TimeFromMicros("$11"), ", ", TimeFromMicros("$12"), ", ",
          TimeFromMicros("$13"),
          ", $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, ",
          TimeFromMicros("$25"),
          ") "
          "ON CONFLICT (requester, idempotency_key) "
          "WHERE idempotency_key <> '' DO NOTHING RETURNING 1"),
      a.id, a.action, a.resource, a.parameters_preview, a.justification,
      a.requester, a.idempotency_key, a.action_digest, a.request_fingerprint,
      std::string(StateName(a.state)), absl::ToUnixMicros(a.created_at),
      absl::ToUnixMicros(a.expires_at), OptionalMicros(a.decided_at),
      a.decided_by, a.decision_comment, a.on_behalf_of, req.rule,
      std::string(OutcomeName(req.outcome)), GroupsJson(req.reviewer_groups),
      req.approvals_required, req.deny_ends,
      absl::ToInt64Microseconds(req.execution_window),
      absl::ToInt64Microseconds(req.escalate_after),
      GroupsJson(req.escalate_to), OptionalMicros(EscalatesAt(a)));
  if (inserted.empty()) return false;
  b.wrote = true;
  return true;
}

// Writes the terminal state of `a` (after a plan that finishes it).
void UpdateFinished(BatchTx& b, const Approval& a) {
  b.wrote = true;
  b.tx.exec_params0(
      absl::StrCat("UPDATE approvals SET state = $2, decided_at = ",
                   TimeFromMicros("$3"),
                   ", decided_by = $4, decision_comment = $5 "
                   "WHERE id = $1::uuid"),
      a.id, std::string(StateName(a.state)), OptionalMicros(a.decided_at),
      a.decided_by, a.decision_comment);
}

// Appends the events of `plan` (transition.h), chained and sealed, and its
// review with the seq of its kReviewed event. The caller has written the
// row. Returns the events written.
std::vector<AuditEvent> WriteEvents(BatchTx& b, const Transition& plan) {
  std::vector<AuditEvent> written;
  for (const PlannedEvent& planned : plan.events) {
    written.push_back(AppendEvent(b, plan.after.id, planned.type, planned.actor,
                                  planned.details_json));
    if (planned.type != EventType::kReviewed || !plan.review.has_value()) {
      continue;
    }
    const Review& r = *plan.review;
    b.WithEvents().exec_params0(
        absl::StrCat("INSERT INTO reviews (approval_id, reviewer, verdict, "
                     "comment, reviewed_at, audit_seq, relay, platform_user) "
                     "VALUES ($1::uuid, $2, $3, $4, ",
                     TimeFromMicros("$5"), ", $6, $7, $8)"),
        plan.after.id, r.reviewer, std::string(VerdictName(r.verdict)),
        r.comment, absl::ToUnixMicros(r.reviewed_at), written.back().seq,
        r.relay, r.platform_user);
  }
  return written;
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
  if (include_reviewed) {
    names.push_back(absl::StrCat(
        "'", std::string(EventTypeName(EventType::kEscalated)), "'"));
  }
  return absl::StrJoin(names, ", ");
}

// --- The writes a batch applies (group commit) ---

class CreateWrite final : public PgWrite {
 public:
  explicit CreateWrite(const NewApproval& req) : PgWrite("Create"), req_(req) {}

  Applied Apply(BatchTx& b) override {
    Transition plan =
        PlanCreate(req_, NewUuid(), absl::FromUnixMicros(b.now_us));
    if (!InsertApproval(b, plan.after)) {
      // The key is taken, by a committed approval or by one earlier in this
      // batch; either is visible here (other batches wait on the chain head
      // before they insert).
      absl::StatusOr<Approval> existing =
          ReadByIdempotencyKey(b.WithEvents(), req_);
      if (!existing.ok()) return {existing.status()};
      if (absl::Status s = CheckIdempotentRepeat(*existing, req_); !s.ok()) {
        return {s};
      }
      result = CreateResult{*std::move(existing), false};
      return {};
    }
    const std::vector<AuditEvent> written = WriteEvents(b, plan);
    Approval& a = plan.after;
    if (absl::Status s = LoadEvidence(b.WithEvents(), {&a}); !s.ok())
      return {s};
    AddCommitted(plan, written.back().seq, absl::FromUnixMicros(b.now_us),
                 b.committed);
    result = CreateResult{std::move(a), true};
    return {};
  }

  CreateResult result;

 private:
  const NewApproval& req_;
};

class DecideWrite final : public PgWrite {
 public:
  explicit DecideWrite(const DecideInput& in) : PgWrite("Decide"), in_(in) {}

  Applied Apply(BatchTx& b) override {
    absl::StatusOr<std::optional<Approval>> locked =
        LockApproval(b.tx, in_.approval_id);
    if (!locked.ok()) return {locked.status()};
    if (!locked->has_value()) return {NotFound(in_.approval_id)};
    Approval& a = **locked;
    if (absl::Status s = LoadReviews(b.WithEvents(), {&a}); !s.ok()) return {s};
    Transition plan = PlanReview(a, in_, absl::FromUnixMicros(b.now_us));
    if (plan.events.empty()) return {plan.refusal};  // nothing to write
    if (plan.finishes) UpdateFinished(b, plan.after);
    const std::vector<AuditEvent> written = WriteEvents(b, plan);
    // The refusal itself is audited; only once it is durable may the
    // caller hear about it.
    if (plan.refused()) return {plan.refusal, /*keep_refusal=*/true};
    if (absl::Status s = LoadEvidence(b.WithEvents(), {&plan.after}); !s.ok()) {
      return {s};
    }
    AddCommitted(plan, written.back().seq, absl::FromUnixMicros(b.now_us),
                 b.committed);
    result = ToApprovalEvent(written.back(), std::move(plan.after));
    return {};
  }

  ApprovalEvent result;

 private:
  const DecideInput& in_;
};

class CancelWrite final : public PgWrite {
 public:
  CancelWrite(const std::string& id, const std::string& actor,
              const std::string& reason)
      : PgWrite("Cancel"), id_(id), actor_(actor), reason_(reason) {}

  Applied Apply(BatchTx& b) override {
    absl::StatusOr<std::optional<Approval>> locked = LockApproval(b.tx, id_);
    if (!locked.ok()) return {locked.status()};
    if (!locked->has_value()) return {NotFound(id_)};
    Approval& a = **locked;
    if (absl::Status s = LoadReviews(b.WithEvents(), {&a}); !s.ok()) return {s};
    Transition plan =
        PlanCancel(a, actor_, reason_, absl::FromUnixMicros(b.now_us));
    if (plan.refused()) return {plan.refusal};
    UpdateFinished(b, plan.after);
    const std::vector<AuditEvent> written = WriteEvents(b, plan);
    AddCommitted(plan, written.back().seq, absl::FromUnixMicros(b.now_us),
                 b.committed);
    result = ToApprovalEvent(written.back(), std::move(plan.after));
    return {};
  }

  ApprovalEvent result;

 private:
  const std::string& id_;
  const std::string& actor_;
  const std::string& reason_;
};

// What the due sweeps (expiry, escalation) share: the approvals a query
// selected, with their reviews, and recording each applied plan's events.
class SweepWrite : public PgWrite {
 public:
  std::vector<ApprovalEvent> result;

 protected:
  SweepWrite(const char* what, int limit) : PgWrite(what), limit_(limit) {}

  // The approvals of `due` (rows of ApprovalColumns()) with their reviews.
  absl::StatusOr<std::vector<Approval>> Selected(BatchTx& b,
                                                 const pqxx::result& due) {
    std::vector<Approval> approvals;
    for (const pqxx::row& row : due) {
      absl::StatusOr<Approval> a = ApprovalFromRow(row, 0);
      if (!a.ok()) return a.status();
      approvals.push_back(*std::move(a));
    }
    if (absl::Status s = LoadReviews(b.WithEvents(), approvals); !s.ok()) {
      return s;
    }
    return approvals;
  }

  // Writes `plan`'s events (its approval row is already updated) and adds
  // the last one to `result`.
  void Record(BatchTx& b, Transition& plan) {
    const std::vector<AuditEvent> written = WriteEvents(b, plan);
    AddCommitted(plan, written.back().seq, absl::FromUnixMicros(b.now_us),
                 b.committed);
    result.push_back(ToApprovalEvent(written.back(), std::move(plan.after)));
  }

  const int limit_;
};

class ExpireWrite final : public SweepWrite {
 public:
  explicit ExpireWrite(int limit) : SweepWrite("ExpireDue", limit) {}

  Applied Apply(BatchTx& b) override {
    result.clear();
    // SKIP LOCKED: an approval some other transaction holds is not due for
    // this sweep; it is left for a later one.
    pqxx::result due = b.tx.exec_params(
        absl::StrCat("SELECT ", ApprovalColumns(),
                     " FROM approvals a WHERE a.state = 'pending' AND "
                     "a.expires_at <= ",
                     TimeFromMicros("$2"),
                     " ORDER BY a.expires_at, a.id LIMIT $1 FOR UPDATE SKIP "
                     "LOCKED"),
        limit_, b.now_us);
    if (due.empty()) return {};
    absl::StatusOr<std::vector<Approval>> approvals = Selected(b, due);
    if (!approvals.ok()) return {approvals.status()};
    std::vector<std::string> ids;
    std::vector<Transition> plans;
    for (const Approval& a : *approvals) {
      ids.push_back(a.id);
      plans.push_back(PlanExpire(a, absl::FromUnixMicros(b.now_us)));
      // The query selected only due approvals under this clock.
      if (plans.back().refused()) return {plans.back().refusal};
    }
    // One statement for the whole sweep: every plan moves its approval to
    // kExpired at now_us with no decider or comment.
    b.wrote = true;
    b.tx.exec_params0(
        absl::StrCat("UPDATE approvals SET state = $3, decided_at = ",
                     TimeFromMicros("$2"),
                     ", decided_by = '', decision_comment = '' "
                     "WHERE id = ANY($1::uuid[])"),
        absl::StrCat("{", absl::StrJoin(ids, ","), "}"), b.now_us,
        std::string(StateName(State::kExpired)));
    for (Transition& plan : plans) Record(b, plan);
    return {};
  }
};

class EscalateWrite final : public SweepWrite {
 public:
  explicit EscalateWrite(int limit) : SweepWrite("EscalateDue", limit) {}

  Applied Apply(BatchTx& b) override {
    result.clear();
    // The row's escalated_at guards it: a row another broker escalated is
    // no longer selected, and SKIP LOCKED leaves one it holds right now to
    // it (its commit sets escalated_at).
    pqxx::result due = b.tx.exec_params(
        absl::StrCat("SELECT ", ApprovalColumns(),
                     " FROM approvals a WHERE a.state = 'pending' AND "
                     "a.escalated_at IS NULL AND a.escalates_at IS NOT NULL "
                     "AND a.escalates_at <= ",
                     TimeFromMicros("$2"), " AND a.expires_at > ",
                     TimeFromMicros("$2"),
                     " ORDER BY a.escalates_at, a.id LIMIT $1 FOR UPDATE SKIP "
                     "LOCKED"),
        limit_, b.now_us);
    if (due.empty()) return {};
    absl::StatusOr<std::vector<Approval>> approvals = Selected(b, due);
    if (!approvals.ok()) return {approvals.status()};
    for (const Approval& a : *approvals) {
      Transition plan = PlanEscalate(a, absl::FromUnixMicros(b.now_us));
      // The query selected only due approvals under this clock.
      if (plan.refused()) return {plan.refusal};
      b.wrote = true;
      b.tx.exec_params0(
          absl::StrCat(
              "UPDATE approvals SET escalated_at = ", TimeFromMicros("$2"),
              " WHERE id = $1::uuid AND escalated_at IS NULL"),
          a.id, b.now_us);
      Record(b, plan);
    }
    return {};
  }
};

// How one try at applying a batch ended.
struct BatchOutcome {
  bool committed = false;
  // >= 0: that member failed alone (its status is set); apply the others
  // again without it.
  int failed_member = -1;
  // The whole batch failed (every status is set), but certainly did not
  // commit and may succeed if tried again.
  bool retry = false;
};

// One try at applying `todo` in one transaction: takes the chain head,
// applies each member in order, advances the head once and commits.
// `before_commit` (may be empty) runs just before COMMIT. On commit,
// `committed` receives what it wrote.
BatchOutcome TryBatch(ConnectionPool& pool, const TokenSigner& signer,
                      const std::function<void()>& before_commit,
                      const std::vector<PgWrite*>& todo,
                      CommittedEvents& committed) {
  absl::StatusOr<ConnectionPool::Lease> lease = pool.Borrow();
  if (!lease.ok()) {
    for (PgWrite* w : todo) {
      w->status = WithDatabaseDetail(
          absl::Status(
              lease.status().code(),
              absl::StrCat(w->context(), ": ", lease.status().message())),
          DatabaseDetail(lease.status()));
    }
    return BatchOutcome{};
  }
  bool commit_started = false;
  int current = -1;
  try {
    pqxx::work tx(lease->conn());
    pqxx::row head = tx.exec1(
        absl::StrCat("SELECT last_seq, encode(last_hash, 'hex'), ",
                     MicrosOf("now()"), " FROM audit_chain_head FOR UPDATE"));
    BatchTx b{tx, signer};
    b.head_seq = head[0].as<int64_t>();
    b.head_hash = absl::HexStringToBytes(head[1].as<std::string>());
    b.now_us = head[2].as<int64_t>();
    const int64_t first_seq = b.head_seq + 1;
    std::vector<absl::Status> answers(todo.size());
    for (current = 0; current < static_cast<int>(todo.size()); ++current) {
      b.wrote = false;
      Applied applied = todo[current]->Apply(b);
      if (!applied.answer.ok() && !applied.keep_refusal && b.wrote) {
        // Half a write must not commit: drop the transaction and apply the
        // others again without this one.
        todo[current]->status = std::move(applied.answer);
        return BatchOutcome{false, current, false};
      }
      answers[current] = std::move(applied.answer);
    }
    current = -1;
    if (b.head_seq >= first_seq) {
      b.WithEvents().exec_params0(
          "UPDATE audit_chain_head SET last_seq = $1, last_hash = "
          "decode($2, 'hex')",
          b.head_seq, absl::BytesToHexString(b.head_hash));
    }
    if (before_commit) before_commit();
    commit_started = true;
    tx.commit();
    for (size_t i = 0; i < todo.size(); ++i) {
      todo[i]->status = std::move(answers[i]);
    }
    committed = std::move(b.committed);
    committed.first_seq = first_seq;  // refusals included
    committed.last_seq = b.head_seq;
    return BatchOutcome{true, -1, false};
  } catch (...) {
    const pg_internal::PgFailure failure =
        pg_internal::ClassifyCurrentException("write", commit_started);
    if (failure.connection_lost) lease->MarkLost();
    if (current >= 0 && !failure.connection_lost && !failure.conflict) {
      // That member's own statement failed: it fails alone.
      todo[current]->status = pg_internal::ClassifyCurrentException(
                                  todo[current]->context(), commit_started)
                                  .status;
      return BatchOutcome{false, current, false};
    }
    for (PgWrite* w : todo) {
      w->status =
          pg_internal::ClassifyCurrentException(w->context(), commit_started)
              .status;
    }
    const bool retry =
        failure.safe_to_retry &&
        (failure.conflict || (failure.connection_lost && lease->reused()));
    return BatchOutcome{false, -1, retry};
  }
}

}  // namespace

PostgresStore::PostgresStore(std::unique_ptr<ConnectionPool> pool,
                             const PostgresOptions& options)
    : pool_(std::move(pool)),
      writable_(options.audit_signer != nullptr),
      signer_(options.audit_signer),
      before_commit_for_test_(options.before_commit_for_test),
      cache_(options.terminal_cache),
      writes_(std::make_unique<WriteQueue>(
          WriteQueue::Options{options.max_write_batch,
                              options.write_batch_wait},
          [this](const std::vector<QueuedWrite*>& batch) {
            ApplyBatch(batch);
          })) {}

const std::shared_ptr<TerminalCache>& PostgresStore::terminal_cache() const {
  return cache_;
}

PostgresStore::~PostgresStore() = default;

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(
    const PostgresOptions& options) {
  if (options.url.empty()) {
    return absl::InvalidArgumentError("url: must not be empty");
  }
  if (options.max_write_batch < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_write_batch: ", options.max_write_batch, ", must be at least 1"));
  }
  if (options.write_batch_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "write_batch_wait: ", absl::FormatDuration(options.write_batch_wait),
        ", must not be negative"));
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
  pool_options.prepared_statements = ReadStatements();
  pool_options.borrow_timeout =
      options.connect_timeout + 2 * options.statement_timeout;
  auto pool = std::make_unique<ConnectionPool>(std::move(pool_options));
  {
    absl::StatusOr<ConnectionPool::Lease> first = pool->Borrow();
    if (!first.ok()) return first.status();
  }
  return std::unique_ptr<PostgresStore>(
      new PostgresStore(std::move(pool), options));
}

void PostgresStore::SetAuditSigner(std::shared_ptr<const TokenSigner> signer) {
  if (!writable_ || signer == nullptr) return;
  absl::MutexLock lock(&signer_mu_);
  signer_ = std::move(signer);
}

absl::Status PostgresStore::CheckWritable() const {
  if (!writable_) {
    return absl::FailedPreconditionError(
        "this store was opened without an audit signer: read-only");
  }
  return absl::OkStatus();
}

absl::StatusOr<CreateResult> PostgresStore::Create(const NewApproval& req) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  CreateWrite write(req);
  writes_->Run(write);
  if (!write.status.ok()) return write.status;
  return std::move(write.result);
}

absl::StatusOr<Approval> PostgresStore::Get(const std::string& id) {
  if (!ValidateApprovalId(id).ok()) return NotFound(id);
  if (cache_ != nullptr) {
    if (std::shared_ptr<const Approval> hit = cache_->Lookup(id)) return *hit;
  }
  Approval result;
  absl::Status s =
      Transact(*pool_, "Get", [&](pqxx::connection_base& c) -> absl::Status {
        // One statement: its own snapshot, no BEGIN/COMMIT round trips.
        pqxx::nontransaction tx(c);
        pqxx::result r = tx.exec_prepared(kGetStatement, id);
        if (r.empty()) return NotFound(id);
        absl::StatusOr<Approval> a = ApprovalWithHistoryFromRow(r[0]);
        if (!a.ok()) return a.status();
        result = *std::move(a);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  if (cache_ != nullptr) cache_->Insert(result);
  return result;
}

absl::StatusOr<ApprovalPage> PostgresStore::List(const ListQuery& q) {
  const int page_size = std::clamp(q.page_size, 1, kMaxPageSize);
  std::vector<std::string> params;
  if (q.state.has_value()) params.emplace_back(StateName(*q.state));
  if (q.requester.has_value()) params.push_back(*q.requester);
  if (!q.page_token.empty()) {
    absl::StatusOr<ApprovalPagePosition> pos =
        ParseApprovalPageToken(q.page_token);
    if (!pos.ok()) return pos.status();
    params.push_back(absl::StrCat(pos->created_at_us));
    params.push_back(pos->id);
  }
  params.push_back(absl::StrCat(page_size + 1));
  const std::string statement = ListStatementName(
      q.state.has_value(), q.requester.has_value(), !q.page_token.empty());

  ApprovalPage page;
  absl::Status s =
      Transact(*pool_, "List", [&](pqxx::connection_base& c) -> absl::Status {
        page = ApprovalPage();
        pqxx::nontransaction tx(c);
        pqxx::result r = tx.exec_prepared(
            statement, pqxx::prepare::make_dynamic_params(params));
        for (const pqxx::row& row : r) {
          if (static_cast<int>(page.approvals.size()) == page_size) {
            page.next_page_token = PageToken(page.approvals.back());
            break;
          }
          // A terminal row never changes: a cached copy saves decoding
          // it (and its reviews and evidence) again.
          if (cache_ != nullptr) {
            std::optional<State> state = ParseState(row[kStateColumn].c_str());
            if (state.has_value() && IsTerminal(*state)) {
              if (std::shared_ptr<const Approval> hit =
                      cache_->Lookup(row[kIdColumn].c_str())) {
                page.approvals.push_back(*hit);
                continue;
              }
            }
          }
          absl::StatusOr<Approval> a = ApprovalWithHistoryFromRow(row);
          if (!a.ok()) return a.status();
          page.approvals.push_back(*std::move(a));
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  if (cache_ != nullptr) {
    for (const Approval& a : page.approvals) cache_->Insert(a);
  }
  return page;
}

absl::StatusOr<ApprovalEvent> PostgresStore::Decide(const DecideInput& in) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (!ValidateApprovalId(in.approval_id).ok()) return NotFound(in.approval_id);
  DecideWrite write(in);
  writes_->Run(write);
  if (!write.status.ok()) return write.status;
  return std::move(write.result);
}

absl::StatusOr<ApprovalEvent> PostgresStore::Cancel(const std::string& id,
                                                    const std::string& actor,
                                                    const std::string& reason) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (!ValidateApprovalId(id).ok()) return NotFound(id);
  CancelWrite write(id, actor, reason);
  writes_->Run(write);
  if (!write.status.ok()) return write.status;
  return std::move(write.result);
}

absl::StatusOr<std::vector<ApprovalEvent>> PostgresStore::ExpireDue(int limit) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (limit <= 0) return std::vector<ApprovalEvent>();
  ExpireWrite write(limit);
  writes_->Run(write);
  if (!write.status.ok()) return write.status;
  return std::move(write.result);
}

absl::StatusOr<std::vector<ApprovalEvent>> PostgresStore::EscalateDue(
    int limit) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (limit <= 0) return std::vector<ApprovalEvent>();
  EscalateWrite write(limit);
  writes_->Run(write);
  if (!write.status.ok()) return write.status;
  return std::move(write.result);
}

void PostgresStore::ApplyBatch(const std::vector<QueuedWrite*>& batch) {
  std::vector<PgWrite*> todo;
  for (QueuedWrite* w : batch) todo.push_back(static_cast<PgWrite*>(w));
  int retries = 0;
  while (!todo.empty()) {
    CommittedEvents committed;
    std::shared_ptr<const TokenSigner> signer;
    {
      absl::MutexLock lock(&signer_mu_);
      signer = signer_;
    }
    const BatchOutcome outcome =
        TryBatch(*pool_, *signer, before_commit_for_test_, todo, committed);
    if (outcome.committed) {
      // Before anyone is answered, and in commit order: there is one
      // leader at a time.
      if (committed.last_seq >= committed.first_seq) {
        NotifyCommitted(committed);
      }
      // What just ended can never change again: later reads need not ask
      // the database.
      if (cache_ != nullptr) {
        for (const ApprovalEvent& e : committed.events) {
          if (e.type != EventType::kCreated) cache_->Insert(e.approval);
        }
      }
      return;
    }
    if (outcome.failed_member >= 0) {
      todo.erase(todo.begin() + outcome.failed_member);
      continue;
    }
    if (!outcome.retry || ++retries >= kMaxAttempts) return;
  }
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
      Transact(*pool_, "Events", [&](pqxx::connection_base& c) -> absl::Status {
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
      *pool_, "LatestCursor", [&](pqxx::connection_base& c) -> absl::Status {
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
  absl::Status s = Transact(*pool_, "CountPending",
                            [&](pqxx::connection_base& c) -> absl::Status {
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
  absl::Status s = Transact(
      *pool_, "QueryAudit", [&](pqxx::connection_base& c) -> absl::Status {
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
  return Transact(*pool_, "Ping", [](pqxx::connection_base& c) -> absl::Status {
    pqxx::nontransaction tx(c);
    tx.exec("SELECT 1");
    return absl::OkStatus();
  });
}

}  // namespace approval
