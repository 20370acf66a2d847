#include "tests/support/chat/chat_database.h"

#include <sstream>
#include <stdexcept>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bots/chat_state.h"

namespace approval::testing {

ChatDatabase::ChatDatabase() : db(TestDatabase::Schema::kEmpty) {
  std::ostringstream log;
  const absl::Status migrated = chat::MigrateChat(db.admin_url(), log);
  if (!migrated.ok()) {
    throw std::runtime_error(
        absl::StrCat("ChatDatabase: migrate: ", migrated.ToString()));
  }
  ExecSql(TestClusterUrl(),
          // Test processes race for the cluster-wide role: the lock orders
          // them (taken in the one database they all share).
          absl::StrCat("SELECT pg_advisory_xact_lock(7243); "
                       "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles "
                       "WHERE rolname = '",
                       kTestChatRole, "') THEN CREATE ROLE ", kTestChatRole,
                       " LOGIN; END IF; END $$; GRANT approval_chat_app TO ",
                       kTestChatRole));
  app_url = db.admin_url();
  const size_t at = app_url.find("postgres@");
  if (at == std::string::npos) {
    throw std::runtime_error(
        "ChatDatabase: the test cluster URL has no user postgres@");
  }
  app_url.replace(at, 8, kTestChatRole);
}

}  // namespace approval::testing
