// The approval-chat binary as a process: migrate, serve (the "serving"
// record, /healthz once it follows the broker), SIGTERM, a bad config; and
// SIGKILLed with approvals pending, then restarted, serving Slack and Teams
// at once against their loopback fakes.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bots/slack.h"
#include "nlohmann/json.hpp"
#include "server/store/memory_store.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/chat/bot_framework_keys.h"
#include "tests/support/chat/chat_database.h"
#include "tests/support/chat/fake_slack.h"
#include "tests/support/chat/fake_teams.h"
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

// The port in `field` ("http_port", "metrics_port") of the "serving"
// record in `log`, waiting up to 30 s for it; 0 if none.
int AwaitServing(const std::string& log,
                 const std::string& field = "http_port") {
  const std::string key = absl::StrCat("\"", field, "\":\"");
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    const std::string text = Slurp(log);
    const size_t at = text.find(key);
    // The closing quote: the number is written whole.
    if (at != std::string::npos &&
        text.find('"', at + key.size()) != std::string::npos) {
      return std::atoi(text.c_str() + at + key.size());
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return 0;
}

// Polls GET /healthz on `port` for up to 30 s; true once it answers 200.
bool AwaitHealthy(int port) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    if (absl::StrContains(HttpGet(port, "/healthz"), " 200 ")) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
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
  CHECK(AwaitHealthy(port));
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

// ------------------------------------------- killed and restarted, both

constexpr char kSlackBotToken[] = "xoxb-process-test";
constexpr char kSlackSecret[] = "process-test-signing-secret";
constexpr char kSlackTeam[] = "T0123";  // RelayConfig: relay slack-bot
constexpr char kSlackChannel[] = "C0APPROVALS";
constexpr char kTeamsAppId[] = "00000000-0000-0000-0000-0000000a9902";
constexpr char kTeamsAppSecret[] = "process-test-app-secret";
constexpr char kTeamsTenant[] = "tenant-2";  // RelayConfig: relay teams-bot
constexpr char kTeamsConversation[] = "19:approvals@thread.tacv2";

// A running `approval-chat serve`. One still running when this goes away
// (a failed REQUIRE) is SIGKILLed and reaped: no process outlives the test.
class ChatProcess final {
 public:
  ChatProcess(const std::string& config, std::string log)
      : log_(std::move(log)),
        pid_(Spawn({"serve", "--config", config}, log_)) {}
  ~ChatProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  ChatProcess(const ChatProcess&) = delete;
  ChatProcess& operator=(const ChatProcess&) = delete;

  const std::string& log() const { return log_; }

  // Sends `sig` and reaps the process; its wait status.
  int Signal(int sig) {
    REQUIRE(pid_ > 0);
    REQUIRE(kill(pid_, sig) == 0);
    int status = 0;
    REQUIRE(waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
    return status;
  }

 private:
  const std::string log_;
  pid_t pid_;
};

// The value of the unlabelled metric `name` on GET /metrics of `port`;
// -1 when absent.
double Metric(int port, const std::string& name) {
  const std::string text = HttpGet(port, "/metrics");
  const std::string key = absl::StrCat("\n", name, " ");
  const size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + key.size(), nullptr);
}

// Polls Metric(port, name) for up to 30 s until it is at least `want`; the
// last value read.
double AwaitMetricAtLeast(int port, const std::string& name, double want) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  double got = Metric(port, name);
  while (got < want && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    got = Metric(port, name);
  }
  return got;
}

// chat.postMessage calls that carry approval `id` (a pending message names
// it in its buttons).
size_t SlackPostsOf(const std::vector<SlackCall>& calls,
                    const std::string& id) {
  size_t n = 0;
  for (const SlackCall& c : calls) {
    n += c.method == "chat.postMessage" && absl::StrContains(c.raw_body, id);
  }
  return n;
}

// chat.update calls for the approval whose resource is `resource` (an
// outcome message no longer names the approval id).
std::vector<SlackCall> SlackUpdatesOf(const std::vector<SlackCall>& calls,
                                      const std::string& resource) {
  std::vector<SlackCall> out;
  for (const SlackCall& c : calls) {
    if (c.method == "chat.update" && absl::StrContains(c.raw_body, resource)) {
      out.push_back(c);
    }
  }
  return out;
}

// Cards posted to a conversation that carry approval `id` (in the
// Action.Execute data of a pending card).
size_t TeamsPostsOf(const std::vector<TeamsCall>& calls,
                    const std::string& id) {
  size_t n = 0;
  for (const TeamsCall& c : calls) {
    n += c.method == "POST" &&
         absl::StrContains(c.path, "/v3/conversations/") &&
         absl::StrContains(c.raw_body, id);
  }
  return n;
}

// Card updates (PUT) for the approval whose resource is `resource`.
std::vector<TeamsCall> TeamsUpdatesOf(const std::vector<TeamsCall>& calls,
                                      const std::string& resource) {
  std::vector<TeamsCall> out;
  for (const TeamsCall& c : calls) {
    if (c.method == "PUT" && absl::StrContains(c.raw_body, resource)) {
      out.push_back(c);
    }
  }
  return out;
}

// The Adaptive Card a card post or update carries; null if none.
nlohmann::json CardOf(const TeamsCall& call) {
  const nlohmann::json& b = call.body;
  if (!b.is_object() || !b.contains("attachments") ||
      !b["attachments"].is_array() || b["attachments"].empty() ||
      !b["attachments"][0].is_object()) {
    return nullptr;
  }
  return b["attachments"][0].value("content", nlohmann::json());
}

TEST_CASE(
    "approval-chat SIGKILLed with approvals pending resumes on restart: "
    "decided ones updated, new ones posted, none posted twice (Slack and "
    "Teams)",
    "[chat][process][pg][teams]") {
  TempDir dir;
  MemoryStore store(absl::Now, TestSigner());
  BrokerHarness broker(store, RelayConfig(dir));
  ChatDatabase database;
  FakeSlack slack(kSlackBotToken);
  FakeBotFramework bot_framework(kTeamsAppId, kTeamsAppSecret);
  BotFrameworkKeys keys(kTeamsAppId);

  // One relay per namespace: slack-bot for slack:T0123, teams-bot for
  // teams:tenant-2.
  dir.Write("broker-token", broker.Token("slack-bot") + "\n");
  dir.Write("teams-relay-token", broker.Token("teams-bot") + "\n");
  dir.Write("slack-bot-token", absl::StrCat(kSlackBotToken, "\n"));
  dir.Write("slack-signing-secret", absl::StrCat(kSlackSecret, "\n"));
  dir.Write("teams-app-secret", absl::StrCat(kTeamsAppSecret, "\n"));
  const nlohmann::json chat_config = {
      {"broker",
       {{"address", broker.address()}, {"token_file", "broker-token"}}},
      {"database_url", database.app_url},
      {"listen", "127.0.0.1:0"},
      {"metrics_listen", "127.0.0.1:0"},
      {"reconnect_backoff", "50ms"},
      {"slack",
       {{"team_id", kSlackTeam},
        {"bot_token_file", "slack-bot-token"},
        {"signing_secret_file", "slack-signing-secret"},
        {"api_base_url", slack.base_url()},
        {"default_channel", kSlackChannel}}},
      {"teams",
       {{"app_id", kTeamsAppId},
        {"app_secret_file", "teams-app-secret"},
        {"tenant_id", kTeamsTenant},
        {"service_url", bot_framework.service_url()},
        {"conversation_id", kTeamsConversation},
        {"openid_metadata_url", keys.metadata_url()},
        {"openid_ca_file", keys.ca_file()},
        {"token_url", bot_framework.token_url()},
        {"relay_token_file", "teams-relay-token"}}}};
  const std::string config = dir.Write("chat.json", chat_config.dump(2));

  auto request = [&](const std::string& table) {
    v1::RequestApprovalResponse resp;
    REQUIRE(broker.Request("agent-1", ExportRequest(table), &resp).ok());
    // RelayConfig's rule two-eyes: two approvals.
    REQUIRE(resp.approval().approvals_missing() == 2);
    return resp.approval().id();
  };
  auto await_posted = [&](const std::string& id) {
    REQUIRE(slack.Await(
        [&](const std::vector<SlackCall>& calls) {
          return SlackPostsOf(calls, id) >= 1;
        },
        absl::Seconds(30)));
    REQUIRE(bot_framework.Await(
        [&](const std::vector<TeamsCall>& calls) {
          return TeamsPostsOf(calls, id) >= 1;
        },
        absl::Seconds(30)));
  };
  const std::string decided_resource = "postgres://prod/orders";
  const std::string reviewed_resource = "postgres://prod/invoices";

  // ---- First run: two approvals posted on both platforms.
  std::string decided;
  std::string reviewed;
  {
    ChatProcess chat(config, dir.path() + "/chat-1.log");
    const int port = AwaitServing(chat.log());
    const int metrics_port = AwaitServing(chat.log(), "metrics_port");
    INFO(Slurp(chat.log()));
    REQUIRE(port > 0);
    REQUIRE(metrics_port > 0);
    REQUIRE(AwaitHealthy(port));

    // Every event, to learn the cursor of the last creation.
    auto watch_ctx = broker.Context("watcher");
    auto watch = broker.Stub()->StreamDecisions(watch_ctx.get(),
                                                v1::StreamDecisionsRequest());
    watch->WaitForInitialMetadata();
    decided = request("orders");
    await_posted(decided);  // one at a time: Slack and Teams see this order
    reviewed = request("invoices");
    v1::DecisionEvent created;
    do {
      REQUIRE(ReadEvent(*watch, &created));
    } while (created.approval().id() != reviewed);
    watch_ctx->TryCancel();
    watch->Finish();
    await_posted(reviewed);

    // A post the fakes have seen may not be recorded yet (the app records
    // it right after the platform answers): kill only once the app reports
    // the second creation's cursor, which it sets after applying an event
    // on every platform. (A kill inside that window is the double-post
    // case, which is tested apart.)
    const double cursor = static_cast<double>(created.cursor());
    REQUIRE(AwaitMetricAtLeast(metrics_port, "approval_chat_stream_cursor",
                               cursor) >= cursor);

    const int status = chat.Signal(SIGKILL);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
  }

  // What the fakes answered those posts with: FakeSlack numbers message ts
  // and FakeBotFramework activity ids (sharing the count with its tokens)
  // in the order of its calls, and these were the only calls.
  const std::vector<SlackCall> slack_before = slack.Calls();
  REQUIRE(slack_before.size() == 2);
  REQUIRE(SlackPostsOf({slack_before[0]}, decided) == 1);
  REQUIRE(SlackPostsOf({slack_before[1]}, reviewed) == 1);
  const std::string decided_ts = "1700000000.100001";
  const std::string reviewed_ts = "1700000000.100002";
  const std::vector<TeamsCall> teams_before = bot_framework.Calls();
  REQUIRE(teams_before.size() == 3);
  REQUIRE(absl::StrContains(teams_before[0].path, "/oauth2/v2.0/token"));
  REQUIRE(TeamsPostsOf({teams_before[1]}, decided) == 1);
  REQUIRE(TeamsPostsOf({teams_before[2]}, reviewed) == 1);
  const std::string activities =
      absl::StrCat("/v3/conversations/", kTeamsConversation, "/activities/");
  const std::string decided_card = activities + "1:act-2";
  const std::string reviewed_card = activities + "1:act-3";

  // ---- While it is down: one decided, one reviewed, one new.
  v1::DecideResponse resp;
  REQUIRE(broker.Decide("alice", decided, v1::APPROVE, &resp).ok());
  REQUIRE(broker.Decide("bob", decided, v1::APPROVE, &resp).ok());
  REQUIRE(resp.approval().state() == v1::APPROVED);
  REQUIRE(broker.Decide("alice", reviewed, v1::APPROVE, &resp).ok());
  REQUIRE(resp.approval().state() == v1::PENDING);
  const std::string created_meanwhile = request("payments");

  // ---- Second run, same config.
  ChatProcess chat(config, dir.path() + "/chat-2.log");
  const int port = AwaitServing(chat.log());
  INFO(Slurp(chat.log()));
  REQUIRE(port > 0);
  REQUIRE(AwaitHealthy(port));

  // The decided one: its message updated to the outcome, without buttons;
  // its card without actions. The last update is the outcome.
  CHECK(slack.Await(
      [&](const std::vector<SlackCall>& calls) {
        const std::vector<SlackCall> u =
            SlackUpdatesOf(calls, decided_resource);
        return !u.empty() && absl::StrContains(u.back().raw_body, "*Approved*");
      },
      absl::Seconds(30)));
  CHECK(bot_framework.Await(
      [&](const std::vector<TeamsCall>& calls) {
        const std::vector<TeamsCall> u =
            TeamsUpdatesOf(calls, decided_resource);
        return !u.empty() &&
               absl::StrContains(u.back().raw_body, "Approved by bob");
      },
      absl::Seconds(30)));
  for (const SlackCall& u : SlackUpdatesOf(slack.Calls(), decided_resource)) {
    CHECK(u.body.value("ts", "") == decided_ts);
    CHECK(u.body.value("channel", "") == kSlackChannel);
  }
  {
    const std::vector<SlackCall> u =
        SlackUpdatesOf(slack.Calls(), decided_resource);
    REQUIRE_FALSE(u.empty());
    CHECK_FALSE(absl::StrContains(u.back().raw_body, chat::kApproveActionId));
    CHECK_FALSE(absl::StrContains(u.back().raw_body, chat::kDenyActionId));
  }
  for (const TeamsCall& u :
       TeamsUpdatesOf(bot_framework.Calls(), decided_resource)) {
    CHECK(u.path == decided_card);
  }
  {
    const std::vector<TeamsCall> u =
        TeamsUpdatesOf(bot_framework.Calls(), decided_resource);
    REQUIRE_FALSE(u.empty());
    CHECK_FALSE(absl::StrContains(u.back().raw_body, "Action.Execute"));
    CHECK_FALSE(CardOf(u.back()).contains("actions"));
  }

  // The reviewed one: shows the review and what is still needed, buttons
  // kept.
  const std::string progress = "alice approved · 1 more needed";
  CHECK(slack.Await(
      [&](const std::vector<SlackCall>& calls) {
        for (const SlackCall& u : SlackUpdatesOf(calls, reviewed_resource)) {
          if (absl::StrContains(u.raw_body, progress)) return true;
        }
        return false;
      },
      absl::Seconds(30)));
  CHECK(bot_framework.Await(
      [&](const std::vector<TeamsCall>& calls) {
        for (const TeamsCall& u : TeamsUpdatesOf(calls, reviewed_resource)) {
          if (absl::StrContains(u.raw_body, progress)) return true;
        }
        return false;
      },
      absl::Seconds(30)));
  for (const SlackCall& u : SlackUpdatesOf(slack.Calls(), reviewed_resource)) {
    CHECK(u.body.value("ts", "") == reviewed_ts);
    CHECK(absl::StrContains(u.raw_body, chat::kApproveActionId));
  }
  for (const TeamsCall& u :
       TeamsUpdatesOf(bot_framework.Calls(), reviewed_resource)) {
    CHECK(u.path == reviewed_card);
    CHECK(absl::StrContains(u.raw_body, "Action.Execute"));
  }

  // The new one: posted on both.
  await_posted(created_meanwhile);

  // ---- Clicks reach the restarted process: a Teams invoke reviews the
  // new one, a Slack click decides the reviewed one.
  const HttpAnswer invoke = PostTeamsActivity(
      port, keys.Bearer(keys.GoodClaims(bot_framework.service_url())),
      InvokeActivity(kTeamsTenant, "alice-oid", "approve", created_meanwhile,
                     "", bot_framework.service_url())
          .dump());
  CHECK(invoke.status == 200);
  CHECK(absl::StrContains(invoke.body, "alice approved"));
  const HttpAnswer click = PostInteraction(
      port,
      BlockActionsBody(kSlackTeam, "UBOB", chat::kApproveActionId, reviewed,
                       kSlackChannel, reviewed_ts),
      kSlackSecret, absl::ToUnixSeconds(absl::Now()));
  CHECK(click.status == 200);
  v1::Approval a;
  REQUIRE(broker.Get("root", reviewed, &a).ok());
  CHECK(a.state() == v1::APPROVED);
  REQUIRE(a.reviews_size() == 2);
  CHECK(a.reviews(1).platform_user() == "slack:T0123/UBOB");
  CHECK(a.reviews(1).relay() == "token:slack-bot");
  REQUIRE(broker.Get("root", created_meanwhile, &a).ok());
  REQUIRE(a.reviews_size() == 1);
  CHECK(a.reviews(0).platform_user() == "teams:tenant-2/alice-oid");
  CHECK(a.reviews(0).relay() == "token:teams-bot");

  // Its decision shows on both, on the message and card posted before the
  // kill.
  CHECK(slack.Await(
      [&](const std::vector<SlackCall>& calls) {
        const std::vector<SlackCall> u =
            SlackUpdatesOf(calls, reviewed_resource);
        return !u.empty() &&
               absl::StrContains(u.back().raw_body, "*Approved*") &&
               u.back().body.value("ts", "") == reviewed_ts;
      },
      absl::Seconds(30)));
  CHECK(bot_framework.Await(
      [&](const std::vector<TeamsCall>& calls) {
        const std::vector<TeamsCall> u =
            TeamsUpdatesOf(calls, reviewed_resource);
        return !u.empty() &&
               absl::StrContains(u.back().raw_body, "Approved by bob") &&
               u.back().path == reviewed_card;
      },
      absl::Seconds(30)));

  // Over the whole test, each approval was posted exactly once per
  // platform. (Events are applied in order: a second post of any of them
  // would have come before the decision just seen.)
  const std::vector<SlackCall> slack_calls = slack.Calls();
  const std::vector<TeamsCall> teams_calls = bot_framework.Calls();
  for (const std::string& id : {decided, reviewed, created_meanwhile}) {
    INFO(id);
    CHECK(SlackPostsOf(slack_calls, id) == 1);
    CHECK(TeamsPostsOf(teams_calls, id) == 1);
  }
  CHECK(slack.Calls("chat.postMessage").size() == 3);
  CHECK(bot_framework.Calls("POST", "/v3/conversations/").size() == 3);

  const int status = chat.Signal(SIGTERM);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace approval::testing
