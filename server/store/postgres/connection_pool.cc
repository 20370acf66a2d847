#include "server/store/postgres/connection_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "pqxx/nontransaction"
#include "server/store/error_detail.h"
#include "server/store/postgres/pg_errors.h"

namespace approval::pg_internal {

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_),
      conn_(std::move(other.conn_)),
      reused_(other.reused_),
      lost_(other.lost_) {}

ConnectionPool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Return(std::move(conn_), lost_);
}

ConnectionPool::ConnectionPool(Options options)
    : options_(std::move(options)) {}

ConnectionPool::~ConnectionPool() = default;

std::unique_ptr<pqxx::connection> ConnectionPool::Open() const {
  auto conn = std::make_unique<pqxx::connection>(options_.conninfo);
  // libpqxx would otherwise reconnect silently and lose the session settings
  // below; the pool replaces lost connections itself. Deprecated in 6.x only
  // because 7.x drops reactivation altogether.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  // A lost connection is closed, never reactivated, so every connection
  // that serves a statement had its statements registered here.
  for (const auto& [name, sql] : options_.prepared_statements) {
    conn->prepare(name, sql);
  }
  pqxx::nontransaction tx(*conn);
  tx.exec(
      absl::StrCat("SET statement_timeout = ",
                   absl::ToInt64Milliseconds(options_.statement_timeout),
                   "; SET client_min_messages = warning; SET TIME ZONE 'UTC'"));
  return conn;
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Borrow() {
  {
    absl::MutexLock lock(&mu_);
    const absl::Time deadline = absl::Now() + options_.borrow_timeout;
    while (idle_.empty() && open_count_ >= options_.size) {
      if (returned_.WaitWithDeadline(&mu_, deadline) && idle_.empty() &&
          open_count_ >= options_.size) {
        return absl::UnavailableError(absl::StrCat(
            "all ", options_.size, " database connections stayed busy for ",
            absl::FormatDuration(options_.borrow_timeout)));
      }
    }
    if (!idle_.empty()) {
      std::unique_ptr<pqxx::connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn), /*reused=*/true);
    }
    ++open_count_;  // reserves the slot while we connect without the lock
  }
  try {
    return Lease(this, Open(), /*reused=*/false);
  } catch (...) {
    absl::Status status =
        ClassifyCurrentException("connect", /*commit_started=*/false).status;
    absl::MutexLock lock(&mu_);
    --open_count_;
    returned_.Signal();
    if (!absl::IsUnavailable(status)) {
      // Bad credentials or a missing database also surface here: for a
      // caller they mean the same thing, the store cannot serve right now.
      status = WithDatabaseDetail(absl::UnavailableError(status.message()),
                                  DatabaseDetail(status));
    }
    return status;
  }
}

void ConnectionPool::Return(std::unique_ptr<pqxx::connection> conn, bool lost) {
  lost = lost || !conn->is_open();
  std::vector<std::unique_ptr<pqxx::connection>> to_close;
  {
    absl::MutexLock lock(&mu_);
    if (lost) {
      to_close.push_back(std::move(conn));
      to_close.insert(to_close.end(), std::make_move_iterator(idle_.begin()),
                      std::make_move_iterator(idle_.end()));
      idle_.clear();
      open_count_ -= static_cast<int>(to_close.size());
      returned_.SignalAll();
    } else {
      idle_.push_back(std::move(conn));
      returned_.Signal();
    }
  }
  // Closing talks to the network: not under the lock.
  to_close.clear();
}

}  // namespace approval::pg_internal
