#include "server/store/postgres/postgres_signal.h"

#include <utility>

#include "pqxx/pqxx"
#include "server/store/postgres/conninfo.h"

namespace approval {
namespace {

constexpr char kChannel[] = "approval_events";
constexpr absl::Duration kRetry = absl::Seconds(1);

// Connecting to an unreachable host must not hold up a stop for long.
std::string WithConnectTimeout(const std::string& url) {
  absl::StatusOr<bool> has = ConninfoHasParam(url, "connect_timeout");
  if (has.ok() && *has) return url;
  return WithConninfoParam(url, "connect_timeout", "3");
}

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, std::function<void(int)> on_notify)
      : pqxx::notification_receiver(c, kChannel),
        on_notify_(std::move(on_notify)) {}
  void operator()(const std::string&, int backend_pid) override {
    on_notify_(backend_pid);
  }

 private:
  std::function<void(int)> on_notify_;
};

}  // namespace

PostgresSignal::PostgresSignal(std::string url)
    : url_(WithConnectTimeout(url)) {
  listener_ = std::thread([this] { Listen(); });
  publisher_ = std::thread([this] { PublishLoop(); });
}

PostgresSignal::~PostgresSignal() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  listener_.join();
  publisher_.join();
}

void PostgresSignal::Publish() {
  absl::MutexLock lock(&mu_);
  pending_ = true;
}

void PostgresSignal::Subscribe(std::function<void()> wake) {
  absl::MutexLock lock(&wake_mu_);
  wake_ = std::move(wake);
}

void PostgresSignal::CallWake() {
  absl::MutexLock lock(&wake_mu_);
  if (wake_) wake_();
}

bool PostgresSignal::WaitStopping(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
}

void PostgresSignal::Listen() {
  for (;;) {
    try {
      pqxx::connection conn(url_);
      Receiver receiver(conn, [this](int backend_pid) {
        if (backend_pid != publisher_pid_.load()) CallWake();
      });
      // Anything committed while we were not listening went unheard.
      CallWake();
      for (;;) {
        {
          absl::MutexLock lock(&mu_);
          if (stopping_) return;
        }
        // Short waits, so a stop is noticed within a quarter second.
        conn.await_notification(0, 250000);
      }
    } catch (const std::exception&) {
      // The database is away; the hub's poll covers the gap. Retry.
    }
    if (WaitStopping(kRetry)) return;
  }
}

void PostgresSignal::PublishLoop() {
  std::unique_ptr<pqxx::connection> conn;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](PostgresSignal* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
            return s->pending_ || s->stopping_;
          },
          this));
      if (stopping_) return;
      pending_ = false;
    }
    try {
      if (conn == nullptr) {
        conn = std::make_unique<pqxx::connection>(url_);
        publisher_pid_ = conn->backendpid();
      }
      pqxx::nontransaction tx(*conn);
      tx.exec0(std::string("NOTIFY ") + kChannel);
    } catch (const std::exception&) {
      // Best effort: other brokers still poll. Reconnect on the next one.
      conn.reset();
      publisher_pid_ = 0;
      if (WaitStopping(kRetry)) return;
    }
  }
}

}  // namespace approval
