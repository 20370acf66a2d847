#include "bots/chat_state.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pqxx/connection"
#include "pqxx/nontransaction"
#include "pqxx/transaction"
#include "server/store/postgres/conninfo.h"
#include "server/store/postgres/pg_errors.h"

namespace approval::chat {
namespace {

// Fixed and distinct from the broker's migration lock.
constexpr int64_t kChatMigrationLockKey = 0x636861745f6d6967;  // "chat_mig"
constexpr int kConnectTimeoutSeconds = 3;

absl::StatusOr<std::string> WithTimeout(const std::string& url) {
  absl::StatusOr<bool> has = ConninfoHasParam(url, "connect_timeout");
  if (!has.ok()) return has.status();
  return *has ? url
              : WithConninfoParam(url, "connect_timeout",
                                  absl::StrCat(kConnectTimeoutSeconds));
}

int ReadVersion(pqxx::transaction_base& tx) {
  if (!tx.exec1("SELECT to_regclass('approval_chat.schema_migrations') IS "
                "NOT NULL")[0]
           .as<bool>()) {
    return 0;
  }
  return tx
      .exec1(
          "SELECT coalesce(max(version), 0) FROM "
          "approval_chat.schema_migrations")[0]
      .as<int>();
}

}  // namespace

absl::Status MigrateChat(const std::string& url, std::ostream& log) {
  absl::StatusOr<std::string> conninfo = WithTimeout(url);
  if (!conninfo.ok()) return conninfo.status();
  bool committing = false;
  try {
    pqxx::connection conn(*conninfo);
    pqxx::nontransaction(conn).exec("SET client_min_messages = warning");
    {
      pqxx::work tx(conn);
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kChatMigrationLockKey);
      tx.exec0("CREATE SCHEMA IF NOT EXISTS approval_chat");
      tx.exec0(
          "CREATE TABLE IF NOT EXISTS approval_chat.schema_migrations ("
          " version integer PRIMARY KEY, name text NOT NULL,"
          " applied_at timestamptz NOT NULL DEFAULT now())");
      committing = true;
      tx.commit();
      committing = false;
    }
    for (const Migration& m : EmbeddedMigrations()) {
      pqxx::work tx(conn);
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kChatMigrationLockKey);
      if (!tx.exec_params("SELECT 1 FROM approval_chat.schema_migrations "
                          "WHERE version = $1",
                          m.version)
               .empty()) {
        continue;
      }
      const std::string file = absl::StrFormat("%04d_%s", m.version, m.name);
      try {
        tx.exec(m.sql);
      } catch (...) {
        return pg_internal::ClassifyCurrentException(
                   absl::StrCat("migration ", file), false)
            .status;
      }
      tx.exec_params0(
          "INSERT INTO approval_chat.schema_migrations (version, name) "
          "VALUES ($1, $2)",
          m.version, m.name);
      committing = true;
      tx.commit();
      committing = false;
      log << "applied " << file << "\n";
    }
    return absl::OkStatus();
  } catch (...) {
    return pg_internal::ClassifyCurrentException("migrate", committing).status;
  }
}

struct ChatState::Connection {
  explicit Connection(const std::string& conninfo) : conn(conninfo) {}
  pqxx::connection conn;
};

absl::StatusOr<std::unique_ptr<ChatState>> ChatState::Open(std::string url) {
  std::unique_ptr<ChatState> state(new ChatState(std::move(url)));
  if (absl::Status s = state->Connect(); !s.ok()) return s;
  return state;
}

ChatState::ChatState(std::string url) : url_(std::move(url)) {}
ChatState::~ChatState() = default;

absl::Status ChatState::Connect() {
  if (conn_ != nullptr && conn_->conn.is_open()) return absl::OkStatus();
  conn_.reset();
  absl::StatusOr<std::string> conninfo = WithTimeout(url_);
  if (!conninfo.ok()) return conninfo.status();
  try {
    auto conn = std::make_unique<Connection>(*conninfo);
    pqxx::read_transaction tx(conn->conn);
    const int version = ReadVersion(tx);
    const int want = EmbeddedMigrations().back().version;
    tx.commit();
    if (version != want) {
      return absl::FailedPreconditionError(absl::StrCat(
          "approval_chat schema is at version ", version,
          "; this "
          "approval-chat needs version ",
          want, version < want ? ": run `approval-chat migrate`" : ""));
    }
    conn_ = std::move(conn);
    return absl::OkStatus();
  } catch (...) {
    return pg_internal::ClassifyCurrentException("connect", false).status;
  }
}

namespace {

// Runs `fn` in a transaction on `conn`; exceptions become statuses and
// drop the connection so that the next call reconnects.
template <typename Conn>
absl::Status InTransaction(std::unique_ptr<Conn>& conn,
                           absl::string_view context,
                           const std::function<void(pqxx::work&)>& fn) {
  bool committing = false;
  try {
    pqxx::work tx(conn->conn);
    fn(tx);
    committing = true;
    tx.commit();
    return absl::OkStatus();
  } catch (...) {
    absl::Status s =
        pg_internal::ClassifyCurrentException(context, committing).status;
    if (!conn->conn.is_open() || s.code() == absl::StatusCode::kUnavailable) {
      conn.reset();
    }
    return s;
  }
}

void MoveCursor(pqxx::work& tx, const std::string& stream, uint64_t cursor) {
  tx.exec_params0(
      "INSERT INTO approval_chat.stream_cursors (stream, cursor) "
      "VALUES ($1, $2) ON CONFLICT (stream) DO UPDATE SET "
      "cursor = greatest(approval_chat.stream_cursors.cursor, "
      "excluded.cursor), updated_at = now()",
      stream, static_cast<int64_t>(cursor));
}

}  // namespace

absl::StatusOr<uint64_t> ChatState::Cursor(const std::string& stream) {
  if (absl::Status s = Connect(); !s.ok()) return s;
  uint64_t cursor = 0;
  absl::Status s = InTransaction(conn_, "read cursor", [&](pqxx::work& tx) {
    pqxx::result r = tx.exec_params(
        "SELECT cursor FROM approval_chat.stream_cursors WHERE stream = $1",
        stream);
    if (!r.empty()) cursor = static_cast<uint64_t>(r[0][0].as<int64_t>());
  });
  if (!s.ok()) return s;
  return cursor;
}

absl::Status ChatState::SetCursor(const std::string& stream, uint64_t cursor) {
  if (absl::Status s = Connect(); !s.ok()) return s;
  return InTransaction(conn_, "store cursor",
                       [&](pqxx::work& tx) { MoveCursor(tx, stream, cursor); });
}

absl::StatusOr<std::optional<PostedMessage>> ChatState::Find(
    const std::string& platform, const std::string& approval_id) {
  if (absl::Status s = Connect(); !s.ok()) return s;
  std::optional<PostedMessage> found;
  absl::Status s = InTransaction(conn_, "read message", [&](pqxx::work& tx) {
    pqxx::result r = tx.exec_params(
        "SELECT channel, message_ref, last_cursor FROM approval_chat.messages "
        "WHERE platform = $1 AND approval_id = $2",
        platform, approval_id);
    if (r.empty()) return;
    found = PostedMessage{r[0][0].as<std::string>(), r[0][1].as<std::string>(),
                          static_cast<uint64_t>(r[0][2].as<int64_t>())};
  });
  if (!s.ok()) return s;
  return found;
}

absl::Status ChatState::RecordIntent(const std::string& platform,
                                     const std::string& approval_id,
                                     const std::string& channel,
                                     absl::Time at) {
  if (absl::Status s = Connect(); !s.ok()) return s;
  return InTransaction(conn_, "record intent", [&](pqxx::work& tx) {
    tx.exec_params0(
        "INSERT INTO approval_chat.post_intents (platform, approval_id, "
        "channel, intended_at) VALUES ($1, $2, $3, "
        "to_timestamp($4::bigint / 1000000.0)) ON CONFLICT DO NOTHING",
        platform, approval_id, channel, absl::ToUnixMicros(at));
  });
}

absl::StatusOr<std::optional<PostIntent>> ChatState::FindIntent(
    const std::string& platform, const std::string& approval_id) {
  if (absl::Status s = Connect(); !s.ok()) return s;
  std::optional<PostIntent> found;
  absl::Status s = InTransaction(conn_, "read intent", [&](pqxx::work& tx) {
    pqxx::result r = tx.exec_params(
        "SELECT channel, (extract(epoch FROM intended_at) * 1000000)::bigint "
        "FROM approval_chat.post_intents WHERE platform = $1 AND "
        "approval_id = $2",
        platform, approval_id);
    if (r.empty()) return;
    found = PostIntent{r[0][0].as<std::string>(),
                       absl::FromUnixMicros(r[0][1].as<int64_t>())};
  });
  if (!s.ok()) return s;
  return found;
}

absl::Status ChatState::RecordPost(const std::string& stream,
                                   const std::string& platform,
                                   const std::string& approval_id,
                                   const PostedMessage& message,
                                   const std::string& state) {
  if (absl::Status s = Connect(); !s.ok()) return s;
  return InTransaction(conn_, "record message", [&](pqxx::work& tx) {
    tx.exec_params0(
        "INSERT INTO approval_chat.messages (platform, approval_id, channel, "
        "message_ref, last_cursor, last_state) VALUES ($1, $2, $3, $4, $5, $6)",
        platform, approval_id, message.channel, message.message_ref,
        static_cast<int64_t>(message.last_cursor), state);
    MoveCursor(tx, stream, message.last_cursor);
  });
}

absl::Status ChatState::RecordApplied(const std::string& stream,
                                      const std::string& platform,
                                      const std::string& approval_id,
                                      uint64_t cursor,
                                      const std::string& state) {
  if (absl::Status s = Connect(); !s.ok()) return s;
  return InTransaction(conn_, "record update", [&](pqxx::work& tx) {
    tx.exec_params0(
        "UPDATE approval_chat.messages SET last_cursor = greatest("
        "last_cursor, $3), last_state = $4, updated_at = now() "
        "WHERE platform = $1 AND approval_id = $2",
        platform, approval_id, static_cast<int64_t>(cursor), state);
    MoveCursor(tx, stream, cursor);
  });
}

}  // namespace approval::chat
