// ChatDatabase: approval-chat's state for a test. A fresh test database
// with approval-chat's schema migrated (MigrateChat, what `approval-chat
// migrate` runs), and a URL to it as a login role that holds only
// approval_chat_app, the role approval-chat runs as in production.
#ifndef APPROVAL_TESTS_SUPPORT_CHAT_CHAT_DATABASE_H_
#define APPROVAL_TESTS_SUPPORT_CHAT_CHAT_DATABASE_H_

#include <string>

#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {

// The cluster-wide login role of app_url (IN ROLE approval_chat_app, no
// password: the test cluster trusts 127.0.0.1).
inline constexpr char kTestChatRole[] = "abt_chat";

struct ChatDatabase {
  // Throws std::runtime_error when the database cannot be made or migrated
  // (a failed test, as for TestDatabase). Safe to construct from parallel
  // test processes.
  ChatDatabase();

  TestDatabase db;      // db.admin_url(): the superuser, for migrations
  std::string app_url;  // as kTestChatRole
};

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_CHAT_CHAT_DATABASE_H_
