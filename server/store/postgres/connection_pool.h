// A bounded pool of libpqxx connections. Internal to approval_postgres.
//
// Each borrower gets one connection to itself until its Lease goes away.
// Connections are opened lazily, up to `size`; one that lost its server is
// discarded and a new one opened on a later borrow, so the pool recovers by
// itself once the database is back. Thread-safe.
#ifndef APPROVAL_SERVER_STORE_POSTGRES_CONNECTION_POOL_H_
#define APPROVAL_SERVER_STORE_POSTGRES_CONNECTION_POOL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pqxx/connection"

namespace approval::pg_internal {

class ConnectionPool final {
 public:
  struct Options {
    std::string conninfo;  // complete, including connect_timeout
    int size = 8;          // at most this many connections open at once
    absl::Duration statement_timeout = absl::Seconds(5);  // SET on each one
    // How long Borrow waits for a connection when all are lent out.
    absl::Duration borrow_timeout = absl::Seconds(8);
    // (name, SQL) of statements prepared on every connection the pool
    // opens, for transaction_base::exec_prepared. libpqxx sends each to the
    // server on its first use on that connection.
    std::vector<std::pair<std::string, std::string>> prepared_statements;
  };

  // Exclusive use of one connection; returns it to the pool when destroyed.
  class Lease final {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    pqxx::connection& conn() { return *conn_; }
    // True when the connection served earlier borrowers: it may have gone
    // stale (say, the server restarted) without anyone noticing yet.
    bool reused() const { return reused_; }
    // The connection is unusable: close it instead of returning it. Also
    // closes the pool's idle connections, which most likely lost the same
    // server.
    void MarkLost() { lost_ = true; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<pqxx::connection> conn,
          bool reused)
        : pool_(pool), conn_(std::move(conn)), reused_(reused) {}

    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
    bool reused_;
    bool lost_ = false;
  };

  explicit ConnectionPool(Options options);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;
  // Every Lease must be gone by then.
  ~ConnectionPool();

  // An idle connection, else a new one if fewer than `size` are open, else
  // waits up to borrow_timeout for one to come back. UNAVAILABLE if no
  // connection can be opened or none came back in time.
  absl::StatusOr<Lease> Borrow();

 private:
  void Return(std::unique_ptr<pqxx::connection> conn, bool lost);
  // Opens a connection and applies the session settings. Throws.
  std::unique_ptr<pqxx::connection> Open() const;

  const Options options_;
  absl::Mutex mu_;
  absl::CondVar returned_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  // Connections idle, lent out or being opened.
  int open_count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace approval::pg_internal

#endif  // APPROVAL_SERVER_STORE_POSTGRES_CONNECTION_POOL_H_
