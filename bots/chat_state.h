// approval-chat's durable state in PostgreSQL (schema approval_chat, see
// bots/migrations/): the broker stream's cursor and, per platform and
// approval, the message posted and the last event applied to it.
#ifndef APPROVAL_BOTS_CHAT_STATE_H_
#define APPROVAL_BOTS_CHAT_STATE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/postgres/migrator.h"

namespace approval::chat {

// Every bots/migrations/NNNN_name.sql, embedded at build time.
const std::vector<Migration>& EmbeddedMigrations();

// Brings the database at `url` to the newest embedded migration (creating
// schema approval_chat and its schema_migrations table), one "applied ..."
// line per migration to `log`. Run as the database owner. UNAVAILABLE if
// unreachable, INTERNAL naming the migration if one fails.
absl::Status MigrateChat(const std::string& url, std::ostream& log);

struct PostedMessage {
  std::string channel;
  std::string message_ref;  // Slack: the message ts
  uint64_t last_cursor = 0;
};

// approval-chat was about to post an approval to `channel` at `at`: the
// message may exist on the platform although none is recorded.
struct PostIntent {
  std::string channel;
  absl::Time at;
};

// One connection, reconnected on the next call after a failure. Errors:
// UNAVAILABLE (database unreachable: retry), FAILED_PRECONDITION (schema
// missing or too old: run `approval-chat migrate`), INTERNAL otherwise.
// Thread-compatible: one user at a time (the stream follower).
class ChatState final {
 public:
  // Connects and checks the schema version.
  static absl::StatusOr<std::unique_ptr<ChatState>> Open(std::string url);
  ~ChatState();

  // The stored cursor of `stream`; 0 when none is stored yet.
  absl::StatusOr<uint64_t> Cursor(const std::string& stream);
  // Stores `cursor` for `stream` unless a larger one is stored.
  absl::Status SetCursor(const std::string& stream, uint64_t cursor);

  // The message recorded for `approval_id` on `platform`, if any.
  absl::StatusOr<std::optional<PostedMessage>> Find(
      const std::string& platform, const std::string& approval_id);

  // Commits that the approval is about to be posted to `channel` at `at`;
  // an intent already stored is kept (its time bounds the look-up).
  absl::Status RecordIntent(const std::string& platform,
                            const std::string& approval_id,
                            const std::string& channel, absl::Time at);
  // The intent stored for `approval_id` on `platform`, if any.
  absl::StatusOr<std::optional<PostIntent>> FindIntent(
      const std::string& platform, const std::string& approval_id);

  // In one transaction: records the message posted for `approval_id` as of
  // event `cursor` (ALREADY_EXISTS if one is recorded) and moves the
  // stream's cursor to `cursor`.
  absl::Status RecordPost(const std::string& stream,
                          const std::string& platform,
                          const std::string& approval_id,
                          const PostedMessage& message,
                          const std::string& state);
  // In one transaction: marks event `cursor` applied to the approval's
  // message and moves the stream's cursor to it.
  absl::Status RecordApplied(const std::string& stream,
                             const std::string& platform,
                             const std::string& approval_id, uint64_t cursor,
                             const std::string& state);

 private:
  explicit ChatState(std::string url);
  absl::Status Connect();

  struct Connection;  // a pqxx::connection (a typedef there)
  const std::string url_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace approval::chat

#endif  // APPROVAL_BOTS_CHAT_STATE_H_
