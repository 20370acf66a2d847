// PostgresStore: the ApprovalStore (store.h) on PostgreSQL.
//
// Every method runs one short transaction on a pooled connection and follows
// the contract in store.h. The clock is the database's now(); audit events
// are chained under a lock on the single audit_chain_head row, so several
// brokers may share one database.
//
// Writes (Create, Decide, Cancel, ExpireDue, EscalateDue) are group-committed:
// they queue (write_queue.h), and one writer at a time applies the queued ones
// in one transaction that takes the chain head first, applies each in order,
// advances the head once and commits once; then each caller gets its own
// result. Nothing is answered before its commit. A member whose own
// statement fails, or that fails after writing (other than an audited
// refusal), fails alone: the batch is applied again without it. A failure
// of the transaction itself (the database went away, the commit's outcome
// is unknown) is every member's answer, and none of them is half-applied.
// Requires the schema of migrator.h at kRequiredSchemaVersion; the broker runs
// as a role IN ROLE approval_broker_app.
//
// Errors, beyond those of the contract: UNAVAILABLE when the database cannot
// be reached, a statement exceeds statement_timeout, or a commit's outcome is
// unknown (the message says so); ABORTED when a transaction kept conflicting
// with concurrent ones after 3 attempts; INTERNAL naming the SQLSTATE for any
// other database error. No exception escapes.
//
// Thread-safe. A call that finds all pool_size connections busy waits up to
// connect_timeout + 2 * statement_timeout for one, then fails UNAVAILABLE.
#ifndef APPROVAL_SERVER_STORE_POSTGRES_POSTGRES_STORE_H_
#define APPROVAL_SERVER_STORE_POSTGRES_POSTGRES_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/domain/token_signer.h"
#include "server/store/store.h"
#include "server/store/terminal_cache.h"
#include "server/store/write_queue.h"

namespace approval {

namespace pg_internal {
class ConnectionPool;
}  // namespace pg_internal

struct PostgresOptions {
  // libpq connection string, URL (postgresql://user@host:5432/db?...) or
  // key=value form. Required. Its own connect_timeout, if any, wins over
  // `connect_timeout` below.
  std::string url;
  // Most connections open at once; a call waits for a free one.
  int pool_size = 8;
  // Server-side limit on each statement (including lock waits). A statement
  // over it fails the call with UNAVAILABLE.
  absl::Duration statement_timeout = absl::Seconds(5);
  // Limit on opening one connection (whole seconds, rounded up).
  absl::Duration connect_timeout = absl::Seconds(3);
  // Seals every audit event this store writes (audit_chain.h): the
  // broker's signing key (signing_key_file), never kept in the database.
  // Null: a read-only store (e.g. for `audit verify`); every write fails
  // FAILED_PRECONDITION.
  std::shared_ptr<const TokenSigner> audit_signer;
  // Group commit: most writes per transaction, and how long a writer that
  // finds the queue empty waits for more to join (write_queue.h).
  int max_write_batch = 64;
  absl::Duration write_batch_wait = absl::ZeroDuration();
  // Tests only: runs in the leader just before a batch's COMMIT.
  std::function<void()> before_commit_for_test;
  // Terminal approvals (terminal_cache.h) that Get answers without the
  // database and List pages decode only once; the store fills it with every
  // terminal approval it reads. Null: no cache. Pending approvals are
  // always read from the database.
  std::shared_ptr<TerminalCache> terminal_cache;
};

class PostgresStore final : public ApprovalStore {
 public:
  // Validates `options` (INVALID_ARGUMENT naming the field, including a url
  // libpq cannot parse) and opens one connection to prove the database is
  // reachable: UNAVAILABLE if it is not. Does not check the schema version
  // (CheckSchema in migrator.h does).
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Open(
      const PostgresOptions& options);

  ~PostgresStore() override;

  absl::StatusOr<CreateResult> Create(const NewApproval& req) override;
  // NOT_FOUND for an id that is not a lower-case UUID, as for an unknown one.
  // One prepared statement (the row, its reviews and evidence), one round
  // trip; a terminal approval in the cache needs none.
  absl::StatusOr<Approval> Get(const std::string& id) override;
  // page_size is clamped to [1, 500]. A page_token this store did not hand
  // out is INVALID_ARGUMENT. One prepared statement per page.
  absl::StatusOr<ApprovalPage> List(const ListQuery& q) override;
  absl::StatusOr<ApprovalEvent> Decide(const DecideInput& in) override;
  absl::StatusOr<ApprovalEvent> Cancel(const std::string& id,
                                       const std::string& actor,
                                       const std::string& reason) override;
  // limit <= 0 expires nothing. Rows another transaction holds are skipped
  // and left for a later sweep.
  absl::StatusOr<std::vector<ApprovalEvent>> ExpireDue(int limit) override;
  // limit <= 0 escalates nothing. Rows another transaction holds are
  // skipped and left for a later sweep; escalated_at guards each row, so
  // brokers sharing the database write one kEscalated event per approval.
  absl::StatusOr<std::vector<ApprovalEvent>> EscalateDue(int limit) override;
  // Ids in q.approval_ids that are not lower-case UUIDs match nothing.
  absl::StatusOr<std::vector<ApprovalEvent>> Events(
      const EventQuery& q) override;
  absl::StatusOr<int64_t> LatestCursor() override;
  absl::StatusOr<int64_t> CountPending() override;
  // Runs SELECT 1 on a pooled connection.
  absl::StatusOr<std::vector<AuditEvent>> QueryAudit(
      const AuditQuery& q) override;
  absl::Status Ping() override;

  // Signing key rotation (SIGHUP): batches that start from now on seal with
  // `signer` (not null); a batch in progress finishes with the key it began
  // with. A read-only store (opened without audit_signer) stays read-only
  // and ignores the call. Thread-safe.
  void SetAuditSigner(std::shared_ptr<const TokenSigner> signer);

  // options.terminal_cache (may be null), for writers that learn terminal
  // approvals to feed it.
  const std::shared_ptr<TerminalCache>& terminal_cache() const;

 private:
  PostgresStore(std::unique_ptr<pg_internal::ConnectionPool> pool,
                const PostgresOptions& options);

  absl::Status CheckWritable() const;
  // The queue's batch function: applies `batch`, sets each member's outcome.
  void ApplyBatch(const std::vector<QueuedWrite*>& batch);

  std::unique_ptr<pg_internal::ConnectionPool> pool_;
  // Set once at construction: a null signer (read-only store) stays null.
  const bool writable_;
  mutable absl::Mutex signer_mu_;
  std::shared_ptr<const TokenSigner> signer_ ABSL_GUARDED_BY(signer_mu_);
  const std::function<void()> before_commit_for_test_;
  const std::shared_ptr<TerminalCache> cache_;
  std::unique_ptr<WriteQueue> writes_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_STORE_POSTGRES_POSTGRES_STORE_H_
