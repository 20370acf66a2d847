// The approval-chat binary as a process: migrate, serve (the "serving"
// record, /healthz once it follows the broker), SIGTERM, a bad config.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/store/memory_store.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"

extern char** environ;

namespace approval::testing {
namespace {

// Starts approval-chat with `args`, stderr to `log`; the pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  std::vector<char*> argv;
  std::string binary = APPROVAL_CHAT_BINARY;
  argv.push_back(binary.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  REQUIRE(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(),
                      environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The http_port of the "serving" record, waiting up to 30 s; 0 if none.
int AwaitServing(const std::string& log) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    const std::string text = Slurp(log);
    const size_t at = text.find("\"http_port\":\"");
    if (at != std::string::npos) {
      return std::atoi(text.c_str() + at + 13);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return 0;
}

TEST_CASE(
    "approval-chat migrates, serves, reports healthy and stops on "
    "SIGTERM",
    "[chat][process][pg]") {
  TempDir dir;
  MemoryStore store(absl::Now, TestSigner());
  BrokerHarness broker(store, RelayConfig(dir));
  TestDatabase db(TestDatabase::Schema::kEmpty);
  dir.Write("broker-token", broker.Token("slack-bot") + "\n");
  dir.Write("slack-bot-token", "xoxb-process-test\n");
  dir.Write("slack-signing-secret", "secret\n");
  const std::string config =
      dir.Write("chat.jsonc", absl::StrCat(R"({
  // relative paths: next to this file
  "broker": {"address": ")",
                                           broker.address(),
                                           R"(", "token_file": "broker-token"},
  "database_url": ")",
                                           db.admin_url(), R"(",
  "listen": "127.0.0.1:0",
  "slack": {"team_id": "T0123", "bot_token_file": "slack-bot-token",
            "signing_secret_file": "slack-signing-secret",
            "api_base_url": "http://127.0.0.1:9/api",
            "default_channel": "C0APPROVALS"}
})"));
  const std::string log = dir.path() + "/chat.log";

  REQUIRE(Wait(Spawn({"migrate", "--config", config}, log)) == 0);
  CHECK(absl::StrContains(Slurp(log), "applied 0001_chat_state"));

  const pid_t pid = Spawn({"serve", "--config", config}, log);
  const int port = AwaitServing(log);
  REQUIRE(port > 0);
  std::string health;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline &&
         !absl::StrContains(health = HttpGet(port, "/healthz"), " 200 ")) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  CHECK(absl::StrContains(health, " 200 "));
  REQUIRE(kill(pid, SIGTERM) == 0);
  CHECK(Wait(pid) == 0);
}

TEST_CASE("approval-chat refuses a config with an unknown key, naming it",
          "[chat][process]") {
  TempDir dir;
  const std::string config =
      dir.Write("chat.json", R"({"broker": {"address": "127.0.0.1:1",
      "token_file": "t"}, "database_url": "x", "slack_typo": {}})");
  const std::string log = dir.path() + "/chat.log";
  CHECK(Wait(Spawn({"serve", "--config", config}, log)) == 1);
  CHECK(absl::StrContains(Slurp(log), "slack_typo"));
}

}  // namespace
}  // namespace approval::testing
