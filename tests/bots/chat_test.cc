// approval-chat: the pure Slack and Teams pieces (signature, payloads,
// rendering, routing, config) and the app end to end against a fake Slack Web
// API, an in-process broker with a relay, and approval-chat's state in
// PostgreSQL.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bots/chat_app.h"
#include "bots/chat_config.h"
#include "bots/chat_state.h"
#include "bots/slack.h"
#include "bots/slack_api.h"
#include "bots/teams.h"
#include "prometheus/registry.h"
#include "server/store/memory_store.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/chat/bot_framework_keys.h"
#include "tests/support/chat/chat_database.h"
#include "tests/support/chat/fake_slack.h"
#include "tests/support/chat/fake_teams.h"
#include "tests/support/identity/jwks_https_server.h"
#include "tests/support/identity/token_minter.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {
namespace {

using chat::SlackSignatureVerifier;

constexpr char kSecret[] = "8f742231b10e8888abcd99yyyzzz85a5";
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

// ---------------------------------------------------------------- signature

TEST_CASE("a request signed with the secret within the window verifies",
          "[chat][signature]") {
  SlackSignatureVerifier v(kSecret, 1024, absl::Minutes(5));
  const std::string body = "payload=%7B%7D";
  const std::string sig =
      SlackSignatureVerifier::Sign(kSecret, "1700000000", body);
  CHECK(absl::StartsWith(sig, "v0="));
  CHECK(sig.size() == 3 + 64);
  CHECK(v.Verify("1700000000", sig, body, kNow + absl::Minutes(4)).ok());
}

TEST_CASE("Slack's documented example signature verifies",
          "[chat][signature]") {
  // api.slack.com/authentication/verifying-requests-from-slack
  const std::string body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain="
      "testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id="
      "U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
      "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"
      "2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id="
      "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
  CHECK(SlackSignatureVerifier::Sign("8f742231b10e8888abcd99yyyzzz85a5",
                                     "1531420618", body) ==
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503");
}

TEST_CASE("a wrong signature is refused", "[chat][signature]") {
  SlackSignatureVerifier v(kSecret, 1024, absl::Minutes(5));
  const std::string other =
      SlackSignatureVerifier::Sign("another secret", "1700000000", "body");
  CHECK(v.Verify("1700000000", other, "body", kNow).code() ==
        absl::StatusCode::kUnauthenticated);
}

TEST_CASE("a body changed after signing is refused", "[chat][signature]") {
  SlackSignatureVerifier v(kSecret, 1024, absl::Minutes(5));
  const std::string sig =
      SlackSignatureVerifier::Sign(kSecret, "1700000000", "body");
  CHECK(v.Verify("1700000000", sig, "bodY", kNow).code() ==
        absl::StatusCode::kUnauthenticated);
}

TEST_CASE("a stale timestamp is refused even with a good signature",
          "[chat][signature]") {
  SlackSignatureVerifier v(kSecret, 1024, absl::Minutes(5));
  const std::string sig =
      SlackSignatureVerifier::Sign(kSecret, "1700000000", "b");
  CHECK(v.Verify("1700000000", sig, "b",
                 kNow + absl::Minutes(5) + absl::Seconds(1))
            .code() == absl::StatusCode::kUnauthenticated);
  CHECK(v.Verify("1700000000", sig, "b", kNow - absl::Minutes(6)).code() ==
        absl::StatusCode::kUnauthenticated);
}

TEST_CASE("a replayed signature is refused the second time",
          "[chat][signature]") {
  SlackSignatureVerifier v(kSecret, 1024, absl::Minutes(5));
  const std::string sig =
      SlackSignatureVerifier::Sign(kSecret, "1700000000", "b");
  REQUIRE(v.Verify("1700000000", sig, "b", kNow).ok());
  CHECK(v.Verify("1700000000", sig, "b", kNow + absl::Seconds(1)).code() ==
        absl::StatusCode::kAlreadyExists);
}

TEST_CASE("an oversized body is refused before anything else",
          "[chat][signature]") {
  SlackSignatureVerifier v(kSecret, 1024, absl::Minutes(5));
  const std::string body(1025, 'x');
  const std::string sig =
      SlackSignatureVerifier::Sign(kSecret, "1700000000", body);
  CHECK(v.Verify("1700000000", sig, body, kNow).code() ==
        absl::StatusCode::kResourceExhausted);
}

TEST_CASE("missing or malformed signature headers are refused",
          "[chat][signature]") {
  SlackSignatureVerifier v(kSecret, 1024, absl::Minutes(5));
  const std::string sig =
      SlackSignatureVerifier::Sign(kSecret, "1700000000", "b");
  CHECK(v.Verify("", sig, "b", kNow).code() ==
        absl::StatusCode::kUnauthenticated);
  CHECK(v.Verify("17e8", sig, "b", kNow).code() ==
        absl::StatusCode::kUnauthenticated);
  CHECK(v.Verify("1700000000", "", "b", kNow).code() ==
        absl::StatusCode::kUnauthenticated);
}

// ---------------------------------------------------------------- payloads

TEST_CASE("a block_actions click is read: user, team, verdict, approval",
          "[chat][payload]") {
  absl::StatusOr<chat::SlackClick> click = chat::ParseSlackInteraction(
      BlockActionsBody("T0123", "U0456", chat::kDenyActionId, "id-1", "C0AP",
                       "1700000000.100001"));
  REQUIRE(click.ok());
  CHECK(click->team_id == "T0123");
  CHECK(click->user_id == "U0456");
  CHECK(click->verdict == v1::DENY);
  CHECK(click->approval_id == "id-1");
  CHECK(click->channel_id == "C0AP");
  CHECK(click->message_ts == "1700000000.100001");
}

TEST_CASE("payloads that are not one click of ours are refused",
          "[chat][payload]") {
  CHECK(chat::ParseSlackInteraction("nothing=1").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(chat::ParseSlackInteraction("payload=%7Bnot+json").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(chat::ParseSlackInteraction("payload=%7B%22type%22%3A%22shortcut%22%7D")
            .status()
            .code() == absl::StatusCode::kUnimplemented);
  CHECK(chat::ParseSlackInteraction(
            BlockActionsBody("T0123", "U1", "other_action", "id", "C1", "1"))
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
  CHECK(chat::ParseSlackInteraction("payload=%ZZ").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(chat::ParseSlackInteraction("payload=%4").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE(
    "a click whose team, user or channel is not a Slack id is refused, so "
    "nothing else reaches the platform identity slack:<team>/<user>",
    "[chat][payload]") {
  auto code = [](const std::string& team, const std::string& user,
                 const std::string& channel) {
    return chat::ParseSlackInteraction(BlockActionsBody(team, user,
                                                        chat::kApproveActionId,
                                                        "id-1", channel, "1.2"))
        .status()
        .code();
  };
  REQUIRE(code("T0123", "U0456", "C0789") == absl::StatusCode::kOk);
  for (const std::string& bad :
       {std::string("U04/56"), std::string("u0456"), std::string("U04 56"),
        std::string("U04\0"
                    "56",
                    6),
        std::string("U0456\n"),
        std::string("\xc3\x9c"
                    "0456"),
        std::string(33, 'U'), std::string()}) {
    INFO(bad);
    CHECK(code("T0123", bad, "C0789") == absl::StatusCode::kInvalidArgument);
    CHECK(code(bad, "U0456", "C0789") == absl::StatusCode::kInvalidArgument);
    if (!bad.empty()) {
      CHECK(code("T0123", "U0456", bad) == absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST_CASE("a submitted Deny reason dialog is read with its reason",
          "[chat][payload]") {
  absl::StatusOr<chat::SlackClick> click =
      chat::ParseSlackInteraction(ViewSubmissionBody(
          "T0123", "U0456", R"({"approval_id":"id-1","channel":"C0AP"})",
          "not during the freeze"));
  REQUIRE(click.ok());
  CHECK(click->kind == chat::SlackClick::Kind::kDenyReason);
  CHECK(click->verdict == v1::DENY);
  CHECK(click->approval_id == "id-1");
  CHECK(click->channel_id == "C0AP");
  CHECK(click->comment == "not during the freeze");
  CHECK(chat::ParseSlackInteraction(
            ViewSubmissionBody("T0123", "U0456", "not json", "x"))
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- rendering

v1::Approval PendingApproval() {
  v1::Approval a;
  a.set_id("6f1c2d8e");
  a.set_action("db.export");
  a.set_resource("postgres://prod/customers");
  a.set_parameters_preview_json(R"({"auth":"<masked:bearer_token:ab12>"})");
  a.set_justification("report <!channel> & more");
  a.set_state(v1::PENDING);
  a.set_requester("agent-1");
  a.set_on_behalf_of("alice");
  a.mutable_requirement()->set_rule("two-eyes");
  a.mutable_requirement()->set_outcome(v1::REQUIRE_APPROVAL);
  a.mutable_requirement()->set_approvals_required(2);
  a.mutable_requirement()->add_reviewer_groups("data-team");
  a.set_approvals_missing(2);
  return a;
}

TEST_CASE("a pending approval renders with its context and two buttons",
          "[chat][render]") {
  const nlohmann::json m = chat::RenderSlackMessage(PendingApproval());
  const std::string text = m.dump();
  CHECK(absl::StrContains(text, "db.export"));
  CHECK(absl::StrContains(text, "<masked:bearer_token:ab12>") == false);
  CHECK(absl::StrContains(text, "&lt;masked:bearer_token:ab12&gt;"));
  CHECK(absl::StrContains(text, "2 approvals from data-team"));
  CHECK(absl::StrContains(text, "On behalf of"));
  CHECK(absl::StrContains(text, chat::kApproveActionId));
  CHECK(absl::StrContains(text, chat::kDenyActionId));
}

TEST_CASE("text from the request cannot mention a channel or add links",
          "[chat][render]") {
  const std::string text = chat::RenderSlackMessage(PendingApproval()).dump();
  CHECK_FALSE(absl::StrContains(text, "<!channel>"));
  CHECK(absl::StrContains(text, "&lt;!channel&gt; &amp; more"));
}

TEST_CASE("a decided approval renders its outcome and no buttons",
          "[chat][render]") {
  v1::Approval a = PendingApproval();
  a.set_state(v1::APPROVED);
  a.set_decided_by("bob");
  a.set_approvals_missing(0);
  v1::Review* r = a.add_reviews();
  r->set_reviewer("alice");
  r->set_verdict(v1::APPROVE);
  const std::string text = chat::RenderSlackMessage(a).dump();
  CHECK(absl::StrContains(text, "*Approved* by bob (alice approved)"));
  CHECK_FALSE(absl::StrContains(text, chat::kApproveActionId));
  CHECK_FALSE(absl::StrContains(text, "\"actions\""));
}

// The longest mrkdwn text of a Block Kit message (section texts, fields,
// context elements).
size_t LongestSlackText(const nlohmann::json& j) {
  size_t longest = 0;
  if (j.is_object()) {
    if (j.value("type", "") == "mrkdwn" && j.contains("text")) {
      longest = j["text"].get<std::string>().size();
    }
    for (const auto& item : j.items()) {
      longest = std::max(longest, LongestSlackText(item.value()));
    }
  } else if (j.is_array()) {
    for (const nlohmann::json& e : j) {
      longest = std::max(longest, LongestSlackText(e));
    }
  }
  return longest;
}

TEST_CASE(
    "with many long-named reviews the first ten are named and the rest "
    "counted, within Slack's 3000 characters a text and Teams' 28 KB a card",
    "[chat][render][teams]") {
  v1::Approval a = PendingApproval();
  a.set_approvals_missing(1);
  for (int i = 0; i < 60; ++i) {
    v1::Review* r = a.add_reviews();
    r->set_reviewer(absl::StrCat("r", i, "-", std::string(300, '&')));
    r->set_verdict(i % 2 == 0 ? v1::APPROVE : v1::DENY);
  }
  for (v1::State state : {v1::PENDING, v1::DENIED}) {
    a.set_state(state);
    a.set_decided_by(state == v1::PENDING ? "" : std::string(300, '<'));
    a.set_decision_comment(state == v1::PENDING ? "" : std::string(600, '>'));
    const nlohmann::json slack = chat::RenderSlackMessage(a);
    const std::string slack_text = slack.dump();
    CHECK(absl::StrContains(slack_text, "and 50 more"));
    CHECK(absl::StrContains(slack_text, "r9-"));
    CHECK_FALSE(absl::StrContains(slack_text, "r10-"));
    CHECK(LongestSlackText(slack) <= 3000);
    const std::string card =
        chat::TeamsCardActivity(chat::RenderTeamsCard(a)).dump();
    CHECK(absl::StrContains(card, "and 50 more"));
    CHECK(card.size() < 28 * 1000);
  }
}

TEST_CASE("routes pick the channel by rule, then group, then default",
          "[chat][routing]") {
  chat::SlackConfig s;
  s.routes = {{"other", "", "CRULE"}, {"", "data-team", "CGROUP"}};
  s.default_channel = "CDEFAULT";
  v1::Approval a = PendingApproval();
  CHECK(chat::ChannelFor(a, s) == "CGROUP");
  a.mutable_requirement()->set_rule("other");
  CHECK(chat::ChannelFor(a, s) == "CRULE");
  a.mutable_requirement()->set_rule("x");
  a.mutable_requirement()->clear_reviewer_groups();
  CHECK(chat::ChannelFor(a, s) == "CDEFAULT");
  s.default_channel.clear();
  CHECK(chat::ChannelFor(a, s).empty());
}

// ---------------------------------------------------------------- config

constexpr char kExampleConfig[] = R"({
  // The README's example.
  "broker": {"address": "127.0.0.1:50051",
             "token_file": "/etc/approval-chat/broker-token"},
  "database_url": "postgresql://approval_chat@127.0.0.1/approval",
  "listen": "127.0.0.1:8080",
  "metrics_listen": "127.0.0.1:9465",
  "slack": {
    "team_id": "T0123",
    "bot_token_file": "/etc/approval-chat/slack-bot-token",
    "signing_secret_file": "/etc/approval-chat/slack-signing-secret",
    "routes": [{"rule": "customer-export", "channel": "C0DATA"},
               {"reviewer_group": "security", "channel": "C0SEC"}],
    "default_channel": "C0APPROVALS"
  }
})";

TEST_CASE("the documented example config parses", "[chat][config]") {
  absl::StatusOr<chat::ChatConfig> c =
      chat::ParseChatConfig(kExampleConfig, "chat.json");
  REQUIRE(c.ok());
  CHECK(c->slack.team_id == "T0123");
  CHECK(c->slack.routes.size() == 2);
  CHECK(c->slack.api_base_url == "https://slack.com/api");
  CHECK(c->slack.timestamp_tolerance == absl::Minutes(5));
}

std::string WithReplaced(const std::string& from, const std::string& to) {
  std::string s = kExampleConfig;
  const size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

TEST_CASE("config errors name the key", "[chat][config]") {
  auto error = [](const std::string& text) {
    absl::StatusOr<chat::ChatConfig> c =
        chat::ParseChatConfig(text, "chat.json");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
    return std::string(c.status().message());
  };
  CHECK(absl::StrContains(error(WithReplaced("\"listen\"", "\"listen_typo\"")),
                          "listen_typo"));
  CHECK(absl::StrContains(
      error(WithReplaced("\"default_channel\": \"C0APPROVALS\"",
                         "\"api_base_url\": \"http://slack.example.org/api\"")),
      "slack.api_base_url"));
  CHECK(absl::StrContains(
      error(WithReplaced("{\"rule\": \"customer-export\", ",
                         "{\"rule\": \"x\", \"reviewer_group\": \"y\", ")),
      "slack.routes[0]"));
  CHECK(absl::StrContains(error(WithReplaced("\"T0123\"", "\"t-lower\"")),
                          "slack.team_id"));
  // Plaintext to a broker on another machine would expose the relay's token.
  CHECK(absl::StrContains(
      error(WithReplaced("127.0.0.1:50051", "broker.example.org:50051")),
      "broker.address"));
  CHECK(absl::StrContains(
      error(WithReplaced("\"token_file\": \"/etc/approval-chat/broker-token\"",
                         "\"timeout\": \"5s\"")),
      "broker"));
}

// ---------------------------------------------------------------- end to end

constexpr char kBotToken[] = "xoxb-test-bot-token";
constexpr char kTeam[] = "T0123";
constexpr char kSecretInParameters[] = "sk-live-0123456789abcdefSECRET";

struct ChatRig {
  ChatRig()
      : store(absl::Now, TestSigner()),
        broker(store, RelayConfig(dir)),
        slack(kBotToken) {
    config.broker.address = broker.address();
    config.broker.token_file = "unused: token passed in ChatDeps";
    config.database_url = database.app_url;
    config.listen = "127.0.0.1:0";
    config.slack.team_id = kTeam;
    config.slack.api_base_url = slack.base_url();
    config.slack.default_channel = "C0APPROVALS";
    config.reconnect_backoff = absl::Milliseconds(50);
  }

  void StartApp() {
    chat::ChatDeps deps;
    deps.broker_token = broker.Token("slack-bot");
    deps.slack_signing_secret = kSecret;
    deps.registry = registry;
    deps.slack = chat::NewSlackWebApi(slack.base_url(), kBotToken, "",
                                      absl::Seconds(10), /*allow_http=*/true);
    absl::StatusOr<std::unique_ptr<chat::ChatState>> state =
        chat::ChatState::Open(database.app_url);
    INFO(state.status().ToString());
    REQUIRE(state.ok());
    deps.state = *std::move(state);
    absl::StatusOr<std::unique_ptr<chat::ChatApp>> started =
        chat::ChatApp::Start(config, std::move(deps));
    REQUIRE(started.ok());
    app = *std::move(started);
    REQUIRE(app->AwaitStreaming(absl::Seconds(30)));
  }

  std::string RequestWithSecret() {
    v1::RequestApprovalRequest req = ExportRequest();
    req.set_parameters_json(
        absl::StrCat(R"({"table":"customers","auth":"Bearer )",
                     kSecretInParameters, R"("})"));
    v1::RequestApprovalResponse resp;
    REQUIRE(broker.Request("agent-1", req, &resp).ok());
    return resp.approval().id();
  }

  // Waits until `n` messages have been posted; the last one's ts.
  std::string AwaitPosts(size_t n) {
    REQUIRE(slack.Await(
        [n](const std::vector<SlackCall>& calls) {
          size_t posts = 0;
          for (const SlackCall& c : calls) {
            posts += c.method == "chat.postMessage";
          }
          return posts >= n;
        },
        absl::Seconds(30)));
    return slack.Calls("chat.postMessage")[n - 1].raw_body;
  }

  // Waits for the first ephemeral message (a refused click); that call.
  SlackCall AwaitEphemeral() {
    REQUIRE(slack.Await(
        [](const std::vector<SlackCall>& calls) {
          for (const SlackCall& c : calls) {
            if (c.method == "chat.postEphemeral") return true;
          }
          return false;
        },
        absl::Seconds(30)));
    return slack.Calls("chat.postEphemeral")[0];
  }

  HttpAnswer Click(const std::string& user, const char* action,
                   const std::string& approval_id) {
    return PostInteraction(app->http_port(),
                           BlockActionsBody(kTeam, user, action, approval_id,
                                            "C0APPROVALS", "1700000000.100001"),
                           kSecret, absl::ToUnixSeconds(absl::Now()));
  }

  // Waits for a chat.update whose text contains `needle`.
  bool AwaitUpdate(const std::string& needle) {
    return slack.Await(
        [&](const std::vector<SlackCall>& calls) {
          for (const SlackCall& c : calls) {
            if (c.method == "chat.update" &&
                absl::StrContains(c.raw_body, needle)) {
              return true;
            }
          }
          return false;
        },
        absl::Seconds(30));
  }

  v1::Approval Get(const std::string& id) {
    v1::Approval a;
    REQUIRE(broker.Get("root", id, &a).ok());
    return a;
  }

  // The value of counter `name` with label `label`="`value`" (any other
  // labels), summed; 0 when absent.
  double Counter(const std::string& name, const std::string& label,
                 const std::string& value) const {
    double sum = 0;
    for (const prometheus::MetricFamily& f : registry->Collect()) {
      if (f.name != name) continue;
      for (const prometheus::ClientMetric& m : f.metric) {
        for (const prometheus::ClientMetric::Label& l : m.label) {
          if (l.name == label && l.value == value) sum += m.counter.value;
        }
      }
    }
    return sum;
  }

  // Counter(...) once it reaches `want`, or its value after 30 s: the app
  // counts a call after the fake has answered it.
  double AwaitCounter(const std::string& name, const std::string& label,
                      const std::string& value, double want) const {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    double got = Counter(name, label, value);
    while (got < want && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
      got = Counter(name, label, value);
    }
    return got;
  }

  TempDir dir;
  std::shared_ptr<prometheus::Registry> registry =
      std::make_shared<prometheus::Registry>();
  MemoryStore store;
  BrokerHarness broker;
  ChatDatabase database;
  FakeSlack slack;
  chat::ChatConfig config;
  std::unique_ptr<chat::ChatApp> app;
};

size_t CountContaining(const std::vector<SlackCall>& calls,
                       const std::string& needle) {
  size_t n = 0;
  for (const SlackCall& c : calls) n += absl::StrContains(c.raw_body, needle);
  return n;
}

TEST_CASE("a new approval is posted with its masked preview, never the secret",
          "[chat][e2e][pg]") {
  ChatRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  const std::string posted = rig.AwaitPosts(1);
  CHECK(absl::StrContains(posted, id));
  CHECK(absl::StrContains(posted, "db.export"));
  CHECK(absl::StrContains(posted, "masked:bearer_token"));
  CHECK(absl::StrContains(posted, "\"channel\":\"C0APPROVALS\""));
  const SlackCall call = rig.slack.Calls("chat.postMessage")[0];
  CHECK(call.authorization == absl::StrCat("Bearer ", kBotToken));
  CHECK(CountContaining(rig.slack.Calls(), kSecretInParameters) == 0);
}

TEST_CASE("two linked reviewers approve by clicking: APPROVED, message final",
          "[chat][e2e][pg]") {
  ChatRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  rig.AwaitPosts(1);

  CHECK(rig.Click("UALICE", chat::kApproveActionId, id).status == 200);
  CHECK(rig.AwaitUpdate("alice approved · 1 more needed"));
  CHECK(rig.Click("UBOB", chat::kApproveActionId, id).status == 200);
  CHECK(rig.AwaitUpdate("*Approved*"));

  const v1::Approval a = rig.Get(id);
  CHECK(a.state() == v1::APPROVED);
  REQUIRE(a.reviews_size() == 2);
  CHECK(a.reviews(0).platform_user() == "slack:T0123/UALICE");
  CHECK(a.reviews(0).relay() == "token:slack-bot");
  const std::vector<SlackCall> updates = rig.slack.Calls("chat.update");
  CHECK_FALSE(absl::StrContains(updates.back().raw_body, "approval_approve"));
  CHECK(updates.back().body.value("ts", "") == "1700000000.100001");
  CHECK(rig.slack.Calls("chat.postEphemeral").empty());
  CHECK(CountContaining(rig.slack.Calls(), kSecretInParameters) == 0);
}

// The Deny reason dialog views.open was asked to show, once it was.
nlohmann::json AwaitDialog(const FakeSlack& slack) {
  REQUIRE(slack.Await(
      [](const std::vector<SlackCall>& calls) {
        for (const SlackCall& c : calls) {
          if (c.method == "views.open") return true;
        }
        return false;
      },
      absl::Seconds(30)));
  return slack.Calls("views.open")[0].body;
}

TEST_CASE("Deny asks for a reason, and submitting it denies with that reason",
          "[chat][e2e][pg]") {
  ChatRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  rig.AwaitPosts(1);

  CHECK(rig.Click("UALICE", chat::kDenyActionId, id).status == 200);
  const nlohmann::json open = AwaitDialog(rig.slack);
  CHECK(open.value("trigger_id", "") == "1.2.3");
  const std::string meta = open["view"].value("private_metadata", "");
  CHECK(absl::StrContains(meta, id));
  CHECK(rig.Get(id).reviews_size() == 0);  // the click alone decides nothing

  const HttpAnswer submitted = PostInteraction(
      rig.app->http_port(),
      ViewSubmissionBody(kTeam, "UALICE", meta, "not during the freeze"),
      kSecret, absl::ToUnixSeconds(absl::Now()));
  CHECK(submitted.status == 200);
  CHECK(submitted.body.empty());  // closes the dialog
  const v1::Approval a = rig.Get(id);
  CHECK(a.state() == v1::DENIED);
  CHECK(a.decision_comment() == "not during the freeze");
  CHECK(rig.AwaitUpdate("*Denied*"));
}

TEST_CASE("a refused Deny reason shows the refusal in the dialog",
          "[chat][e2e][pg]") {
  ChatRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  rig.AwaitPosts(1);
  CHECK(rig.Click("UAGENT", chat::kDenyActionId, id).status == 200);
  const std::string meta =
      AwaitDialog(rig.slack)["view"].value("private_metadata", "");
  const HttpAnswer submitted = PostInteraction(
      rig.app->http_port(), ViewSubmissionBody(kTeam, "UAGENT", meta, "no"),
      kSecret, absl::ToUnixSeconds(absl::Now()));
  CHECK(submitted.status == 200);
  const nlohmann::json answer =
      nlohmann::json::parse(submitted.body, nullptr, false);
  CHECK(answer.value("response_action", "") == "errors");
  CHECK(
      absl::StrContains(answer["errors"].value("reason", ""), "not recorded"));
  CHECK(rig.Get(id).state() == v1::PENDING);
  CHECK(rig.Get(id).reviews_size() == 0);
}

TEST_CASE("metrics count posts, updates and interactions by outcome",
          "[chat][e2e][pg][metrics]") {
  ChatRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  rig.AwaitPosts(1);
  CHECK(rig.Click("UALICE", chat::kApproveActionId, id).status == 200);
  CHECK(rig.AwaitUpdate("alice approved"));
  CHECK(rig.Click("UAGENT", chat::kApproveActionId, id).status == 200);
  CHECK(PostInteraction(rig.app->http_port(), "payload=x", "wrong", 1).status ==
        401);
  CHECK(rig.AwaitCounter("approval_chat_messages_posted_total", "platform",
                         "slack", 1) == 1);
  CHECK(rig.AwaitCounter("approval_chat_messages_updated_total", "platform",
                         "slack", 1) == 1);
  CHECK(rig.Counter("approval_chat_interactions_total", "outcome", "decided") ==
        1);
  CHECK(rig.Counter("approval_chat_interactions_total", "outcome", "refused") ==
        1);
  CHECK(rig.Counter("approval_chat_signature_failures_total", "platform",
                    "slack") == 1);
}

TEST_CASE("approvals pending before the very first start are posted once",
          "[chat][e2e][pg]") {
  ChatRig rig;
  const std::string before = rig.RequestWithSecret();
  rig.StartApp();
  rig.AwaitPosts(1);
  const std::string after = rig.RequestWithSecret();
  rig.AwaitPosts(2);
  const std::vector<SlackCall> posts = rig.slack.Calls("chat.postMessage");
  CHECK(CountContaining(posts, before) == 1);
  CHECK(CountContaining(posts, after) == 1);
  CHECK(posts.size() == 2);
}

TEST_CASE(
    "the requester clicking Approve gets an ephemeral refusal, nothing "
    "changes",
    "[chat][e2e][pg]") {
  ChatRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  rig.AwaitPosts(1);

  CHECK(rig.Click("UAGENT", chat::kApproveActionId, id).status == 200);
  const SlackCall e = rig.AwaitEphemeral();
  CHECK(e.body.value("user", "") == "UAGENT");
  CHECK(e.body.value("channel", "") == "C0APPROVALS");
  CHECK(absl::StrContains(e.body.value("text", ""), "not recorded"));
  const v1::Approval a = rig.Get(id);
  CHECK(a.state() == v1::PENDING);
  CHECK(a.reviews_size() == 0);
  CHECK(rig.slack.Calls("chat.update").empty());
}

TEST_CASE("an unlinked Slack user gets told the account is not linked",
          "[chat][e2e][pg]") {
  ChatRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  rig.AwaitPosts(1);
  CHECK(rig.Click("UNOBODY", chat::kApproveActionId, id).status == 200);
  CHECK(absl::StrContains(rig.AwaitEphemeral().body.value("text", ""),
                          "not linked"));
  CHECK(rig.Get(id).reviews_size() == 0);
}

TEST_CASE(
    "unsigned, stale, replayed and oversized interactions decide "
    "nothing",
    "[chat][e2e][pg]") {
  ChatRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  rig.AwaitPosts(1);
  const int port = rig.app->http_port();
  const std::string body = BlockActionsBody(
      kTeam, "UALICE", chat::kApproveActionId, id, "C0APPROVALS", "1");
  const int64_t now = absl::ToUnixSeconds(absl::Now());

  CHECK(PostInteraction(port, body, "wrong secret", now).status == 401);
  CHECK(PostInteraction(port, body, kSecret, now - 301).status == 401);
  const std::string big = body + "&pad=" + std::string(70 * 1024, 'x');
  CHECK(PostInteraction(port, big, kSecret, now).status == 413);
  // Signed for another workspace: verified, but not ours.
  CHECK(PostInteraction(
            port,
            BlockActionsBody("T9999", "UALICE", chat::kApproveActionId, id,
                             "C0APPROVALS", "1"),
            kSecret, now)
            .status == 403);
  CHECK(rig.Get(id).reviews_size() == 0);

  // The same signed request twice: the first decides, the replay is refused.
  const std::string sig =
      SlackSignatureVerifier::Sign(kSecret, absl::StrCat(now), body);
  CHECK(PostInteraction(port, body, kSecret, now, sig).status == 200);
  CHECK(PostInteraction(port, body, kSecret, now, sig).status == 401);
  CHECK(rig.Get(id).reviews_size() == 1);
}

TEST_CASE(
    "after a restart the app resumes from its cursor: decided "
    "meanwhile is updated, new is posted, none twice",
    "[chat][e2e][pg]") {
  ChatRig rig;
  rig.StartApp();
  const std::string first = rig.RequestWithSecret();
  rig.AwaitPosts(1);
  rig.app.reset();  // approval-chat is down from here

  v1::DecideResponse resp;
  REQUIRE(rig.broker.Decide("alice", first, v1::APPROVE, &resp).ok());
  REQUIRE(rig.broker.Decide("bob", first, v1::APPROVE, &resp).ok());
  const std::string second = rig.RequestWithSecret();

  rig.StartApp();
  rig.AwaitPosts(2);
  CHECK(rig.AwaitUpdate("*Approved*"));
  const std::vector<SlackCall> posts = rig.slack.Calls("chat.postMessage");
  CHECK(posts.size() == 2);
  CHECK(CountContaining(posts, first) == 1);
  CHECK(CountContaining(posts, second) == 1);
  const std::string first_ts = "1700000000.100001";
  bool updated_first = false;
  for (const SlackCall& u : rig.slack.Calls("chat.update")) {
    if (u.body.value("ts", "") == first_ts &&
        absl::StrContains(u.raw_body, "*Approved*")) {
      updated_first = true;
    }
  }
  CHECK(updated_first);
}

// ================================================================ Teams

constexpr char kAppId[] = "00000000-0000-0000-0000-0000000a9901";
constexpr char kAppSecret[] = "teams-app-secret-value";
constexpr char kTenant[] = "tenant-2";
constexpr char kServiceUrl[] = "https://smba.trafficmanager.net/emea/";

TEST_CASE(
    "a Bot Framework token for our app verifies against the JWKS "
    "named by the OpenID metadata",
    "[chat][teams][auth]") {
  BotFrameworkKeys bf(kAppId);
  auto v = bf.Verifier();
  const nlohmann::json activity = {{"type", "invoke"},
                                   {"serviceUrl", kServiceUrl}};
  const absl::Status s =
      v->Verify(bf.Bearer(bf.GoodClaims(kServiceUrl)), activity);
  INFO(s.ToString());
  CHECK(s.ok());
  CHECK(bf.metadata.requests() >= 1);
  CHECK(bf.jwks.requests() >= 1);
}

TEST_CASE(
    "Bot Framework tokens with a wrong audience, issuer, key, expiry "
    "or serviceurl are refused",
    "[chat][teams][auth]") {
  BotFrameworkKeys bf(kAppId);
  auto v = bf.Verifier();
  const nlohmann::json activity = {{"serviceUrl", kServiceUrl}};
  auto code = [&](const std::string& authorization) {
    return v->Verify(authorization, activity).code();
  };
  REQUIRE(code(bf.Bearer(bf.GoodClaims(kServiceUrl))) == absl::StatusCode::kOk);
  nlohmann::json c = bf.GoodClaims(kServiceUrl);
  c["aud"] = "another-app";
  CHECK(code(bf.Bearer(c)) == absl::StatusCode::kUnauthenticated);
  c = bf.GoodClaims(kServiceUrl);
  c["iss"] = "https://sts.windows.net/someone/";
  CHECK(code(bf.Bearer(c)) == absl::StatusCode::kUnauthenticated);
  c = bf.GoodClaims(kServiceUrl);
  c["exp"] = absl::ToUnixSeconds(absl::Now() - absl::Minutes(10));
  CHECK(code(bf.Bearer(c)) == absl::StatusCode::kUnauthenticated);
  c = bf.GoodClaims("https://evil.example.org/");
  CHECK(code(bf.Bearer(c)) == absl::StatusCode::kUnauthenticated);
  const TestKey unknown = TestKey::Rsa("not-listed");
  CHECK(code("Bearer " + Mint(bf.GoodClaims(kServiceUrl), unknown)) ==
        absl::StatusCode::kUnauthenticated);
  CHECK(code("") == absl::StatusCode::kUnauthenticated);
  CHECK(code(Mint(bf.GoodClaims(kServiceUrl), bf.key)) ==
        absl::StatusCode::kUnauthenticated);  // no "Bearer "
}

TEST_CASE("an Action.Execute invoke is read: tenant, user, verdict, reason",
          "[chat][teams][payload]") {
  absl::StatusOr<chat::TeamsInvoke> i = chat::ParseTeamsInvoke(InvokeActivity(
      kTenant, "bob-oid", "deny", "id-1", "not today", kServiceUrl));
  REQUIRE(i.ok());
  CHECK(i->tenant_id == kTenant);
  CHECK(i->aad_object_id == "bob-oid");
  CHECK(i->verdict == v1::DENY);
  CHECK(i->approval_id == "id-1");
  CHECK(i->comment == "not today");

  CHECK(chat::ParseTeamsInvoke({{"type", "message"}, {"text", "hi"}})
            .status()
            .code() == absl::StatusCode::kUnimplemented);
  nlohmann::json bad =
      InvokeActivity(kTenant, "bob-oid", "delete", "id-1", "", kServiceUrl);
  CHECK(chat::ParseTeamsInvoke(bad).status().code() ==
        absl::StatusCode::kInvalidArgument);
  bad = InvokeActivity(kTenant, "", "approve", "id-1", "", kServiceUrl);
  CHECK(chat::ParseTeamsInvoke(bad).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // An object id that would put a '/' into the platform identity.
  bad =
      InvokeActivity(kTenant, "bob-oid/x", "approve", "id-1", "", kServiceUrl);
  CHECK(chat::ParseTeamsInvoke(bad).status().code() ==
        absl::StatusCode::kInvalidArgument);
  bad = InvokeActivity(kTenant, "bob-oid", "approve", "id-1", "", kServiceUrl);
  bad["channelData"]["tenant"]["id"] = "other-tenant";
  CHECK(chat::ParseTeamsInvoke(bad).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("long text is cut on a character boundary for both platforms",
          "[chat][render]") {
  // 700 three-byte characters: past every cut (1000 and 500 bytes fall
  // inside one), which must not split one (the JSON writer throws on
  // invalid UTF-8).
  std::string long_text;
  for (int i = 0; i < 700; ++i) long_text += "\xe2\x82\xac";  // €
  v1::Approval a = PendingApproval();
  a.set_justification(long_text);
  a.set_resource(long_text);
  std::string teams;
  std::string slack;
  REQUIRE_NOTHROW(teams = chat::RenderTeamsCard(a).dump());
  REQUIRE_NOTHROW(slack = chat::RenderSlackMessage(a).dump());
  CHECK(absl::StrContains(teams, "…"));
  CHECK(absl::StrContains(slack, "…"));
  const std::string refusal =
      chat::TeamsRefusalText(absl::PermissionDeniedError(long_text));
  CHECK(refusal.size() < long_text.size());
  REQUIRE_NOTHROW(nlohmann::json(refusal).dump());
}

TEST_CASE(
    "the Adaptive Card has the context and Action.Execute buttons "
    "while pending, the outcome and none once decided",
    "[chat][teams][render]") {
  v1::Approval a = PendingApproval();
  const nlohmann::json card = chat::RenderTeamsCard(a);
  const std::string text = card.dump();
  CHECK(card["type"] == "AdaptiveCard");
  CHECK(absl::StrContains(text, "db.export"));
  CHECK(absl::StrContains(text, "2 approvals from data-team"));
  CHECK(absl::StrContains(text, "masked:bearer\\\\_token"));
  CHECK(absl::StrContains(text, R"(report \\<!channel\\> & more)"));
  REQUIRE(card["actions"].size() == 2);
  CHECK(card["actions"][0]["type"] == "Action.Execute");
  CHECK(card["actions"][0]["verb"] == chat::kTeamsApproveVerb);
  CHECK(card["actions"][1]["verb"] == chat::kTeamsDenyVerb);
  CHECK(card["actions"][1]["data"]["approval_id"] == a.id());
  CHECK(absl::StrContains(text, "Input.Text"));

  a.set_state(v1::DENIED);
  a.set_decided_by("bob");
  const nlohmann::json done = chat::RenderTeamsCard(a, "");
  CHECK_FALSE(done.contains("actions"));
  CHECK_FALSE(absl::StrContains(done.dump(), "Input.Text"));
  CHECK(absl::StrContains(done.dump(), "Denied by bob"));
}

constexpr char kTeamsOnlyConfig[] = R"({
  "broker": {"address": "broker.internal:8443",
             "token_file": "/etc/approval-chat/broker-token",
             "ca_file": "/etc/approval-chat/broker-ca.pem"},
  "database_url": "postgresql://approval_chat@db.internal/approval_chat",
  "listen": "127.0.0.1:8080",
  "teams": {
    "app_id": "00000000-0000-0000-0000-0000000a9901",
    "app_secret_file": "/etc/approval-chat/teams-app-secret",
    "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "service_url": "https://smba.trafficmanager.net/emea/",
    "conversation_id": "19:abc123@thread.tacv2"
  }
})";

TEST_CASE(
    "a Teams-only config parses with Bot Framework defaults, and its errors "
    "name the key",
    "[chat][teams][config]") {
  absl::StatusOr<chat::ChatConfig> c =
      chat::ParseChatConfig(kTeamsOnlyConfig, "chat.json");
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK_FALSE(c->slack.enabled);
  CHECK(c->teams.enabled);
  CHECK(c->teams.issuer == "https://api.botframework.com");
  CHECK(c->teams.openid_metadata_url ==
        "https://login.botframework.com/v1/.well-known/openidconfiguration");
  CHECK(c->teams.max_body_bytes == 128 * 1024);

  auto error = [](std::string text, const std::string& from,
                  const std::string& to) {
    text.replace(text.find(from), from.size(), to);
    absl::StatusOr<chat::ChatConfig> c =
        chat::ParseChatConfig(text, "chat.json");
    REQUIRE_FALSE(c.ok());
    return std::string(c.status().message());
  };
  CHECK(absl::StrContains(error(kTeamsOnlyConfig, "\"service_url\": \"https://",
                                "\"service_url\": \"http://"),
                          "teams.service_url"));
  CHECK(absl::StrContains(
      error(kTeamsOnlyConfig, "\"tenant_id\"", "\"tenant\""), "tenant"));
  CHECK(absl::StrContains(error(kTeamsOnlyConfig, "\"teams\"", "\"teamz\""),
                          "teamz"));
  const std::string none =
      error(kTeamsOnlyConfig, "\"teams\": {", "\"teamz_unused\": 1, \"x\": {");
  CHECK(!none.empty());
}

// ------------------------------------------------------------ invalid UTF-8

TEST_CASE(
    "invalid UTF-8 in an approval is written as U+FFFD on both platforms, "
    "so the JSON writer cannot throw",
    "[chat][render]") {
  // nlohmann's dump() throws on invalid UTF-8: a message or card holding
  // it could never be sent, and the stream would stop at that approval.
  // Found by fuzz/chat_render_fuzzer.cc.
  v1::Approval a = PendingApproval();
  a.set_justification("bad \xff byte");
  a.set_resource("cut \xe2\x82 here");
  a.set_id("id-\xc3");
  std::string slack;
  std::string teams;
  REQUIRE_NOTHROW(slack = chat::RenderSlackMessage(a).dump());
  REQUIRE_NOTHROW(
      teams = chat::TeamsCardActivity(chat::RenderTeamsCard(a, "why \xc0\xaf"))
                  .dump());
  CHECK(absl::StrContains(slack, "bad \xef\xbf\xbd byte"));
  CHECK(absl::StrContains(teams, "bad \xef\xbf\xbd byte"));
  CHECK(absl::StrContains(teams, "id-\xef\xbf\xbd"));
  REQUIRE_NOTHROW(
      nlohmann::json(chat::RefusalText(absl::PermissionDeniedError("no \xff")))
          .dump());
}

TEST_CASE(
    "escaping cannot take a Slack section past 3000 characters, and a cut "
    "never splits an entity",
    "[chat][render]") {
  // Each '&' becomes "&amp;": cut before escaping, 2500 of them made a
  // 12500-character section, which Slack refuses (invalid_blocks).
  // Found by fuzz/chat_render_fuzzer.cc.
  v1::Approval a = PendingApproval();
  a.set_parameters_preview_json(std::string(2500, '&'));
  const nlohmann::json m = chat::RenderSlackMessage(a);
  bool found = false;
  for (const nlohmann::json& block : m["blocks"]) {
    if (!block.contains("text")) continue;
    const std::string text = block["text"]["text"];
    if (!absl::StrContains(text, "masked preview")) continue;
    found = true;
    CHECK(text.size() <= 3000);
    CHECK(absl::StrContains(text, "&amp;…"));
  }
  CHECK(found);
}

TEST_CASE(
    "an http:// URL whose host only looks like 127.0.0.1 (user info) is "
    "refused",
    "[chat][config]") {
  // curl sends "http://127.0.0.1:80@evil.example/" to evil.example, with
  // the connector's bearer token in plaintext. Found by
  // fuzz/chat_config_fuzzer.cc.
  std::string text = kTeamsOnlyConfig;
  const std::string from = "https://smba.trafficmanager.net/emea/";
  text.replace(text.find(from), from.size(),
               "http://127.0.0.1:80@evil.example/");
  absl::StatusOr<chat::ChatConfig> c = chat::ParseChatConfig(text, "chat.json");
  REQUIRE_FALSE(c.ok());
  CHECK(absl::StrContains(c.status().message(), "teams.service_url"));
}

// approval-chat serving Teams only, against a fake Bot Framework, the
// broker with relay teams-bot for tenant-2, and its state in PostgreSQL.
struct TeamsRig {
  TeamsRig()
      : store(absl::Now, TestSigner()),
        broker(store, RelayConfig(dir)),
        bot_framework(kAppId, kAppSecret) {
    config.broker.address = broker.address();
    config.broker.token_file = "unused: token passed in ChatDeps";
    config.database_url = database.app_url;
    config.listen = "127.0.0.1:0";
    config.slack.enabled = false;
    config.teams.enabled = true;
    config.teams.app_id = kAppId;
    config.teams.tenant_id = kTenant;
    config.teams.service_url = bot_framework.service_url();
    config.teams.conversation_id = "19:approvals@thread.tacv2";
    config.teams.max_body_bytes = 16 * 1024;
    config.reconnect_backoff = absl::Milliseconds(50);
  }

  void StartApp() {
    chat::ChatDeps deps;
    deps.broker_token = broker.Token("teams-bot");
    deps.registry = registry;
    chat::TeamsConnectorOptions o;
    o.token_url = bot_framework.token_url();
    o.app_id = kAppId;
    o.app_secret = kAppSecret;
    o.allow_http = true;
    deps.teams = chat::NewTeamsConnectorApi(o, [] { return absl::Now(); });
    deps.teams_verifier = keys.Verifier();
    absl::StatusOr<std::unique_ptr<chat::ChatState>> state =
        chat::ChatState::Open(database.app_url);
    INFO(state.status().ToString());
    REQUIRE(state.ok());
    deps.state = *std::move(state);
    absl::StatusOr<std::unique_ptr<chat::ChatApp>> started =
        chat::ChatApp::Start(config, std::move(deps));
    INFO(started.status().ToString());
    REQUIRE(started.ok());
    app = *std::move(started);
    REQUIRE(app->AwaitStreaming(absl::Seconds(30)));
  }

  std::string RequestWithSecret() {
    v1::RequestApprovalRequest req = ExportRequest();
    req.set_parameters_json(
        absl::StrCat(R"({"table":"customers","auth":"Bearer )",
                     kSecretInParameters, R"("})"));
    v1::RequestApprovalResponse resp;
    REQUIRE(broker.Request("agent-1", req, &resp).ok());
    return resp.approval().id();
  }

  // Waits for the card's POST to the channel conversation; its call.
  TeamsCall AwaitPost() {
    REQUIRE(bot_framework.Await(
        [](const std::vector<TeamsCall>& calls) {
          for (const TeamsCall& c : calls) {
            if (c.method == "POST" && absl::StrContains(c.path, "/v3/")) {
              return true;
            }
          }
          return false;
        },
        absl::Seconds(30)));
    return bot_framework.Calls("POST", "/v3/conversations/")[0];
  }

  // Waits for a PUT (card update) whose body contains `needle`.
  bool AwaitUpdate(const std::string& needle) {
    return bot_framework.Await(
        [&](const std::vector<TeamsCall>& calls) {
          for (const TeamsCall& c : calls) {
            if (c.method == "PUT" && absl::StrContains(c.raw_body, needle)) {
              return true;
            }
          }
          return false;
        },
        absl::Seconds(30));
  }

  // The invoke `user` sends clicking `verb`, with a valid Bot Framework
  // token.
  HttpAnswer Click(const std::string& user, const std::string& verb,
                   const std::string& id, const std::string& reason = "") {
    return PostTeamsActivity(
        app->http_port(), keys.Bearer(keys.GoodClaims(kServiceUrl)),
        InvokeActivity(kTenant, user, verb, id, reason, kServiceUrl).dump());
  }

  v1::Approval Get(const std::string& id) {
    v1::Approval a;
    REQUIRE(broker.Get("root", id, &a).ok());
    return a;
  }

  TempDir dir;
  std::shared_ptr<prometheus::Registry> registry =
      std::make_shared<prometheus::Registry>();
  MemoryStore store;
  BrokerHarness broker;
  ChatDatabase database;
  FakeBotFramework bot_framework;
  BotFrameworkKeys keys{kAppId};
  chat::ChatConfig config;
  std::unique_ptr<chat::ChatApp> app;
};

size_t CountContaining(const std::vector<TeamsCall>& calls,
                       const std::string& needle) {
  size_t n = 0;
  for (const TeamsCall& c : calls) n += absl::StrContains(c.raw_body, needle);
  return n;
}

TEST_CASE(
    "Teams: a new approval is posted as a card with the masked "
    "preview, never the secret",
    "[chat][teams][e2e][pg]") {
  TeamsRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  const TeamsCall post = rig.AwaitPost();
  // (civetweb hands the fake the decoded path.)
  CHECK(post.path == "/v3/conversations/19:approvals@thread.tacv2/activities");
  CHECK(absl::StrContains(post.raw_body, id));
  CHECK(absl::StrContains(post.raw_body,
                          "application/vnd.microsoft.card."
                          "adaptive"));
  CHECK(absl::StrContains(post.raw_body, "masked:bearer"));
  CHECK(absl::StrContains(post.authorization, "Bearer bf-access-"));
  const std::vector<TeamsCall> tokens =
      rig.bot_framework.Calls("POST", "/oauth2/v2.0/token");
  REQUIRE(tokens.size() == 1);
  CHECK(absl::StrContains(tokens[0].raw_body, "grant_type=client_credentials"));
  CHECK(CountContaining(rig.bot_framework.Calls(), kSecretInParameters) == 0);
}

TEST_CASE(
    "Teams: two linked users approve through invokes: APPROVED, card "
    "answered and updated",
    "[chat][teams][e2e][pg]") {
  TeamsRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  rig.AwaitPost();

  const HttpAnswer first = rig.Click("alice-oid", "approve", id);
  REQUIRE(first.status == 200);
  const nlohmann::json answer = nlohmann::json::parse(first.body);
  CHECK(answer["statusCode"] == 200);
  CHECK(answer["type"] == "application/vnd.microsoft.card.adaptive");
  CHECK(answer["value"]["type"] == "AdaptiveCard");
  CHECK(absl::StrContains(answer.dump(), "alice approved"));
  CHECK(rig.AwaitUpdate("alice approved"));

  const HttpAnswer second = rig.Click("bob-oid", "approve", id);
  REQUIRE(second.status == 200);
  CHECK_FALSE(nlohmann::json::parse(second.body)["value"].contains("actions"));
  CHECK(rig.AwaitUpdate("Approved by"));

  const v1::Approval a = rig.Get(id);
  CHECK(a.state() == v1::APPROVED);
  REQUIRE(a.reviews_size() == 2);
  CHECK(a.reviews(0).platform_user() == "teams:tenant-2/alice-oid");
  CHECK(a.reviews(0).relay() == "token:teams-bot");
  const std::vector<TeamsCall> puts = rig.bot_framework.Calls("PUT", "/v3/");
  REQUIRE_FALSE(puts.empty());
  CHECK_FALSE(absl::StrContains(puts.back().raw_body, "Action.Execute"));
  CHECK(absl::StrContains(puts.back().path, "/activities/1:act-"));
  // One token for every connector call.
  CHECK(rig.bot_framework.Calls("POST", "/oauth2/v2.0/token").size() == 1);
}

TEST_CASE(
    "Teams: the requester's invoke is refused in the card and "
    "changes nothing",
    "[chat][teams][e2e][pg]") {
  TeamsRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  rig.AwaitPost();
  const HttpAnswer a = rig.Click("agent-oid", "approve", id);
  REQUIRE(a.status == 200);
  const nlohmann::json card = nlohmann::json::parse(a.body)["value"];
  CHECK(absl::StrContains(card.dump(), "not recorded"));
  CHECK(card.contains("actions"));  // still pending: buttons stay
  CHECK(rig.Get(id).state() == v1::PENDING);
  CHECK(rig.Get(id).reviews_size() == 0);
  CHECK(rig.bot_framework.Calls("PUT", "/v3/").empty());
}

TEST_CASE(
    "Teams: an unlinked user, a Deny without reason and another "
    "tenant are refused",
    "[chat][teams][e2e][pg]") {
  TeamsRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  rig.AwaitPost();
  const HttpAnswer unlinked = rig.Click("nobody-oid", "approve", id);
  REQUIRE(unlinked.status == 200);
  CHECK(absl::StrContains(unlinked.body, "not linked"));
  const HttpAnswer no_reason = rig.Click("bob-oid", "deny", id);
  REQUIRE(no_reason.status == 200);
  CHECK(absl::StrContains(no_reason.body, "reason"));
  CHECK(PostTeamsActivity(rig.app->http_port(),
                          rig.keys.Bearer(rig.keys.GoodClaims(kServiceUrl)),
                          InvokeActivity("tenant-9", "bob-oid", "approve", id,
                                         "", kServiceUrl)
                              .dump())
            .status == 403);
  CHECK(rig.Get(id).reviews_size() == 0);

  const HttpAnswer denied = rig.Click("bob-oid", "deny", id, "freeze week");
  REQUIRE(denied.status == 200);
  const v1::Approval a = rig.Get(id);
  CHECK(a.state() == v1::DENIED);
  CHECK(a.decision_comment() == "freeze week");
}

TEST_CASE(
    "Teams: activities with a bad token or an oversized body decide "
    "nothing",
    "[chat][teams][e2e][pg]") {
  TeamsRig rig;
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();
  rig.AwaitPost();
  const int port = rig.app->http_port();
  const std::string body =
      InvokeActivity(kTenant, "alice-oid", "approve", id, "", kServiceUrl)
          .dump();
  nlohmann::json c = rig.keys.GoodClaims(kServiceUrl);
  c["aud"] = "another-app";
  CHECK(PostTeamsActivity(port, rig.keys.Bearer(c), body).status == 401);
  c = rig.keys.GoodClaims(kServiceUrl);
  c["iss"] = "https://login.example.org";
  CHECK(PostTeamsActivity(port, rig.keys.Bearer(c), body).status == 401);
  c = rig.keys.GoodClaims(kServiceUrl);
  c["exp"] = absl::ToUnixSeconds(absl::Now() - absl::Minutes(10));
  CHECK(PostTeamsActivity(port, rig.keys.Bearer(c), body).status == 401);
  CHECK(PostTeamsActivity(port,
                          "Bearer " + Mint(rig.keys.GoodClaims(kServiceUrl),
                                           TestKey::Rsa("unknown-kid")),
                          body)
            .status == 401);
  CHECK(PostTeamsActivity(port, "", body).status == 401);
  const std::string big =
      InvokeActivity(kTenant, "alice-oid", "approve", id,
                     std::string(17 * 1024, 'x'), kServiceUrl)
          .dump();
  CHECK(PostTeamsActivity(
            port, rig.keys.Bearer(rig.keys.GoodClaims(kServiceUrl)), big)
            .status == 413);
  CHECK(rig.Get(id).reviews_size() == 0);
  // A non-invoke activity with a good token is acknowledged and ignored.
  CHECK(PostTeamsActivity(port,
                          rig.keys.Bearer(rig.keys.GoodClaims(kServiceUrl)),
                          nlohmann::json{{"type", "conversationUpdate"},
                                         {"serviceUrl", kServiceUrl}}
                              .dump())
            .status == 200);
}

TEST_CASE(
    "Slack and Teams together: each posts once, a Slack click updates "
    "the Teams card, and after a restart both catch up",
    "[chat][teams][e2e][pg]") {
  TeamsRig rig;
  FakeSlack slack(kBotToken);
  rig.config.slack.enabled = true;
  rig.config.slack.team_id = kTeam;
  rig.config.slack.api_base_url = slack.base_url();
  rig.config.slack.default_channel = "C0APPROVALS";
  auto start = [&] {
    chat::ChatDeps deps;
    deps.broker_token = rig.broker.Token("slack-bot");
    deps.teams_relay_token = rig.broker.Token("teams-bot");
    deps.slack_signing_secret = kSecret;
    deps.slack = chat::NewSlackWebApi(slack.base_url(), kBotToken, "",
                                      absl::Seconds(10), /*allow_http=*/true);
    chat::TeamsConnectorOptions o;
    o.token_url = rig.bot_framework.token_url();
    o.app_id = kAppId;
    o.app_secret = kAppSecret;
    o.allow_http = true;
    deps.teams = chat::NewTeamsConnectorApi(o, [] { return absl::Now(); });
    deps.teams_verifier = rig.keys.Verifier();
    absl::StatusOr<std::unique_ptr<chat::ChatState>> state =
        chat::ChatState::Open(rig.database.app_url);
    REQUIRE(state.ok());
    deps.state = *std::move(state);
    absl::StatusOr<std::unique_ptr<chat::ChatApp>> started =
        chat::ChatApp::Start(rig.config, std::move(deps));
    INFO(started.status().ToString());
    REQUIRE(started.ok());
    rig.app = *std::move(started);
    REQUIRE(rig.app->AwaitStreaming(absl::Seconds(30)));
  };
  auto slack_posts = [&](size_t n) {
    return slack.Await(
        [n](const std::vector<SlackCall>& calls) {
          size_t posts = 0;
          for (const SlackCall& c : calls) {
            posts += c.method == "chat.postMessage";
          }
          return posts >= n;
        },
        absl::Seconds(30));
  };
  auto teams_posts = [&](size_t n) {
    return rig.bot_framework.Await(
        [n](const std::vector<TeamsCall>& calls) {
          size_t posts = 0;
          for (const TeamsCall& c : calls) {
            posts += c.method == "POST" && absl::StrContains(c.path, "/v3/");
          }
          return posts >= n;
        },
        absl::Seconds(30));
  };

  start();
  const std::string first = rig.RequestWithSecret();
  REQUIRE(slack_posts(1));
  REQUIRE(teams_posts(1));
  // A Slack click (as the Slack relay) shows on the Teams card too.
  CHECK(PostInteraction(
            rig.app->http_port(),
            BlockActionsBody(kTeam, "UALICE", chat::kApproveActionId, first,
                             "C0APPROVALS", "1700000000.100001"),
            kSecret, absl::ToUnixSeconds(absl::Now()))
            .status == 200);
  CHECK(rig.AwaitUpdate("alice approved"));
  rig.app.reset();  // down from here

  // Decided by a Teams invoke would need the app: decide directly instead.
  v1::DecideResponse resp;
  REQUIRE(rig.broker.Decide("bob", first, v1::APPROVE, &resp).ok());
  const std::string second = rig.RequestWithSecret();

  start();
  REQUIRE(slack_posts(2));
  REQUIRE(teams_posts(2));
  CHECK(rig.AwaitUpdate("Approved by"));
  CHECK(slack.Await(
      [](const std::vector<SlackCall>& calls) {
        for (const SlackCall& c : calls) {
          if (c.method == "chat.update" &&
              absl::StrContains(c.raw_body, "*Approved*")) {
            return true;
          }
        }
        return false;
      },
      absl::Seconds(30)));
  const std::vector<TeamsCall> teams_posted =
      rig.bot_framework.Calls("POST", "/v3/conversations/");
  CHECK(teams_posted.size() == 2);
  CHECK(CountContaining(teams_posted, first) == 1);
  CHECK(CountContaining(teams_posted, second) == 1);
  CHECK(slack.Calls("chat.postMessage").size() == 2);
  CHECK(rig.Get(first).reviews(0).platform_user() == "slack:T0123/UALICE");
}

// ======================================= Slack: no double post after a crash

TEST_CASE(
    "our bot's message for an approval is found by its metadata, nobody "
    "else's",
    "[chat][slack]") {
  const nlohmann::json ours = chat::SlackApprovalMetadata("a-1");
  CHECK(ours["event_type"] == chat::kApprovalEventType);
  CHECK(ours["event_payload"]["approval_id"] == "a-1");
  nlohmann::json messages = nlohmann::json::array({
      // Newest first, as conversations.history lists them.
      {{"user", "U0MALLORY"}, {"ts", "5.0"}, {"metadata", ours}},
      {{"bot_id", "B0OTHER"}, {"ts", "4.0"}, {"metadata", ours}},
      {{"bot_id", FakeSlack::kBotId},
       {"ts", "3.0"},
       {"metadata", chat::SlackApprovalMetadata("a-2")}},
      {{"bot_id", FakeSlack::kBotId}, {"ts", "2.5"}},
      {{"bot_id", FakeSlack::kBotId},
       {"ts", "2.0"},
       {"metadata",
        {{"event_type", "something_else"},
         {"event_payload", {{"approval_id", "a-1"}}}}}},
  });
  CHECK_FALSE(chat::FindApprovalMessage(messages, FakeSlack::kBotId, "a-1")
                  .has_value());
  messages.push_back(
      {{"bot_id", FakeSlack::kBotId}, {"ts", "1.0"}, {"metadata", ours}});
  CHECK(chat::FindApprovalMessage(messages, FakeSlack::kBotId, "a-1") ==
        std::optional<std::string>("1.0"));
  CHECK_FALSE(chat::FindApprovalMessage(messages, "", "a-1").has_value());
}

TEST_CASE(
    "conversations.history pages newest first after oldest, with metadata "
    "and next_cursor",
    "[chat][slack]") {
  FakeSlack slack(kBotToken);
  slack.set_ts_clock(absl::Now);
  slack.set_history_page_size(2);
  slack.AddMessage("C1", {{"user", "U1"}});  // before `cut`: not listed
  const absl::Time cut = absl::Now();
  std::vector<std::string> after;
  for (int i = 0; i < 5; ++i) {
    after.push_back(slack.AddMessage(
        "C1", {{"bot_id", "B0OTHER"},
               {"metadata", chat::SlackApprovalMetadata(absl::StrCat(i))}}));
  }
  slack.AddMessage("C2", {{"user", "U1"}});
  std::unique_ptr<chat::SlackApi> api = chat::NewSlackWebApi(
      slack.base_url(), kBotToken, "", absl::Seconds(10), true);

  absl::StatusOr<std::string> bot = api->BotId();
  REQUIRE(bot.ok());
  CHECK(*bot == FakeSlack::kBotId);

  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    absl::StatusOr<chat::SlackHistoryPage> page =
        api->History("C1", cut, cursor, 200);
    INFO(page.status().ToString());
    REQUIRE(page.ok());
    ++pages;
    CHECK(page->messages.size() <= 2);
    for (const nlohmann::json& m : page->messages) {
      seen.push_back(m.value("ts", ""));
      CHECK(m.contains("metadata"));
    }
    if (!page->has_more) {
      CHECK(page->next_cursor.empty());
      break;
    }
    REQUIRE_FALSE(page->next_cursor.empty());
    cursor = page->next_cursor;
    REQUIRE(pages < 10);
  }
  CHECK(pages == 3);
  CHECK(seen == std::vector<std::string>(after.rbegin(), after.rend()));
  for (const SlackCall& c : slack.Calls("conversations.history")) {
    CHECK(c.body.value("include_all_metadata", false));
  }

  slack.set_history_scope(false);
  absl::StatusOr<chat::SlackHistoryPage> refused =
      api->History("C1", cut, "", 200);
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(refused.status().message(), "missing_scope"));
}

// Ends approval-chat's database sessions (as Slack takes its first post, if
// the test arranges so) and waits until they are gone: the app's record of
// the post then fails, as if it had crashed between posting and recording.
void EndChatSessions(ChatRig& rig) {
  const std::string admin = rig.database.db.admin_url();
  const std::string filter =
      " FROM pg_stat_activity WHERE usename = 'abt_chat' AND datname = "
      "current_database()";
  ExecSql(admin, "SELECT pg_terminate_backend(pid)" + filter);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (ExecSql(admin, "SELECT count(*)" + filter) != "0" &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
}

// Arranges the crash window for the `nth` chat.postMessage: Slack has the
// message, then approval-chat loses its database before recording the ts;
// `also` runs in between (e.g. other messages arrive in the channel).
void BreakDatabaseOnPost(ChatRig& rig, int nth,
                         std::function<void()> also = nullptr) {
  auto posts = std::make_shared<std::atomic<int>>(0);
  rig.slack.OnPost([&rig, posts, nth, also](const SlackCall&) {
    if (++*posts != nth) return;
    if (also) also();
    EndChatSessions(rig);
  });
}

// The messages in C0APPROVALS carrying approval `id`'s metadata.
std::vector<nlohmann::json> MessagesFor(const ChatRig& rig,
                                        const std::string& id) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& m : rig.slack.Messages("C0APPROVALS")) {
    if (m.contains("metadata") &&
        m["metadata"]
                .value("event_payload", nlohmann::json::object())
                .value("approval_id", "") == id &&
        m.value("bot_id", "") == FakeSlack::kBotId) {
      out.push_back(m);
    }
  }
  return out;
}

// Approves `id` (two reviewers) and waits for the message to show it; every
// chat.update's ts.
std::vector<std::string> ApproveAndCollectUpdatedTs(ChatRig& rig,
                                                    const std::string& id) {
  v1::DecideResponse resp;
  REQUIRE(rig.broker.Decide("alice", id, v1::APPROVE, &resp).ok());
  REQUIRE(rig.broker.Decide("bob", id, v1::APPROVE, &resp).ok());
  REQUIRE(rig.AwaitUpdate("*Approved*"));
  std::vector<std::string> ts;
  for (const SlackCall& u : rig.slack.Calls("chat.update")) {
    ts.push_back(u.body.value("ts", ""));
  }
  return ts;
}

TEST_CASE(
    "a post whose record was lost is found in the channel's history and "
    "not posted twice, and updates go to it",
    "[chat][e2e][pg]") {
  ChatRig rig;
  rig.slack.set_ts_clock(absl::Now);
  // The app has applied an event before (a stored cursor to resume from).
  BreakDatabaseOnPost(rig, 2);
  rig.StartApp();
  rig.RequestWithSecret();
  rig.AwaitPosts(1);
  const std::string id = rig.RequestWithSecret();

  // Once the outcome shows, the post (or posts) were recorded.
  const std::vector<std::string> updated = ApproveAndCollectUpdatedTs(rig, id);
  const std::vector<nlohmann::json> posted = MessagesFor(rig, id);
  CHECK(CountContaining(rig.slack.Calls("chat.postMessage"), id) == 1);
  REQUIRE(posted.size() == 1);
  const std::string first_ts = posted[0].value("ts", "");
  REQUIRE_FALSE(updated.empty());
  for (const std::string& ts : updated) CHECK(ts == first_ts);
  const std::vector<SlackCall> looked =
      rig.slack.Calls("conversations.history");
  REQUIRE_FALSE(looked.empty());
  CHECK(looked[0].body.value("channel", "") == "C0APPROVALS");
  CHECK(rig.Counter("approval_chat_post_recoveries_total", "outcome",
                    "adopted") == 1);
  CHECK(rig.Counter("approval_chat_post_recoveries_total", "outcome",
                    "lookup_failed") == 0);
}

TEST_CASE(
    "without the history scope a post whose record was lost is posted "
    "again, and that is counted",
    "[chat][e2e][pg]") {
  ChatRig rig;
  rig.slack.set_ts_clock(absl::Now);
  rig.slack.set_history_scope(false);
  BreakDatabaseOnPost(rig, 1);
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();

  REQUIRE(rig.AwaitCounter("approval_chat_post_recoveries_total", "outcome",
                           "lookup_failed", 1) == 1);
  rig.AwaitPosts(2);
  CHECK(CountContaining(rig.slack.Calls("chat.postMessage"), id) == 2);
  CHECK(rig.AwaitCounter("approval_chat_api_errors_total", "method",
                         "conversations.history", 1) == 1);
  CHECK(rig.Counter("approval_chat_post_recoveries_total", "outcome",
                    "adopted") == 0);
  // The second message is the one recorded: updates go there.
  const std::vector<nlohmann::json> posted = MessagesFor(rig, id);
  REQUIRE(posted.size() == 2);
  const std::vector<std::string> updated = ApproveAndCollectUpdatedTs(rig, id);
  REQUIRE_FALSE(updated.empty());
  for (const std::string& ts : updated) {
    CHECK(ts == posted[1].value("ts", ""));
  }
}

TEST_CASE(
    "the look-up pages through newer messages and adopts neither another "
    "bot's nor a person's message with the same approval id",
    "[chat][e2e][pg]") {
  ChatRig rig;
  rig.slack.set_ts_clock(absl::Now);
  rig.slack.set_history_page_size(2);
  std::string id;  // set before the post arrives
  BreakDatabaseOnPost(rig, 1, [&rig, &id] {
    // Newer than ours, so listed before it.
    const nlohmann::json same = chat::SlackApprovalMetadata(id);
    rig.slack.AddMessage("C0APPROVALS", {{"user", "U0HUMAN"}, {"text", "hi"}});
    rig.slack.AddMessage(
        "C0APPROVALS",
        {{"bot_id", "B0OTHER"}, {"app_id", "A0OTHER"}, {"metadata", same}});
    rig.slack.AddMessage("C0APPROVALS",
                         {{"user", "U0MALLORY"}, {"metadata", same}});
    rig.slack.AddMessage("C0APPROVALS", {{"user", "U0HUMAN"}, {"text", "ok"}});
    rig.slack.AddMessage(
        "C0APPROVALS",
        {{"bot_id", "B0OTHER"}, {"app_id", "A0OTHER"}, {"metadata", same}});
  });
  // The approval id is known only once requested; requesting before the
  // app starts makes it the backfilled first post.
  id = rig.RequestWithSecret();
  rig.StartApp();

  const std::vector<std::string> updated = ApproveAndCollectUpdatedTs(rig, id);
  const std::vector<nlohmann::json> posted = MessagesFor(rig, id);
  CHECK(CountContaining(rig.slack.Calls("chat.postMessage"), id) == 1);
  REQUIRE(posted.size() == 1);
  REQUIRE_FALSE(updated.empty());
  for (const std::string& ts : updated) CHECK(ts == posted[0].value("ts", ""));
  // 6 messages since, 2 a page: ours is on the third page.
  const std::vector<SlackCall> looked =
      rig.slack.Calls("conversations.history");
  REQUIRE(looked.size() == 3);
  CHECK_FALSE(looked[0].body.contains("cursor"));
  CHECK(looked[1].body.value("cursor", "") != "");
  CHECK(looked[2].body.value("cursor", "") !=
        looked[1].body.value("cursor", ""));
}

TEST_CASE(
    "the look-up reads a history page far larger than an ordinary API answer "
    "(a busy channel) and still adopts the message",
    "[chat][e2e][pg]") {
  ChatRig rig;
  rig.slack.set_ts_clock(absl::Now);
  BreakDatabaseOnPost(rig, 1, [&rig] {
    // 100 newer messages of 2 KB each: one page, about 200 KB.
    for (int i = 0; i < 100; ++i) {
      rig.slack.AddMessage("C0APPROVALS",
                           {{"user", "U0HUMAN"},
                            {"text", absl::StrCat(i, std::string(2000, 'x'))}});
    }
  });
  const std::string id = rig.RequestWithSecret();
  rig.StartApp();

  const std::vector<std::string> updated = ApproveAndCollectUpdatedTs(rig, id);
  const std::vector<nlohmann::json> posted = MessagesFor(rig, id);
  CHECK(CountContaining(rig.slack.Calls("chat.postMessage"), id) == 1);
  REQUIRE(posted.size() == 1);
  REQUIRE_FALSE(updated.empty());
  for (const std::string& ts : updated) CHECK(ts == posted[0].value("ts", ""));
}

TEST_CASE(
    "a record lost before the first event was ever applied resumes from the "
    "live stream: decided meanwhile, the message is updated",
    "[chat][e2e][pg]") {
  ChatRig rig;
  rig.slack.set_ts_clock(absl::Now);
  // Events before the app's first start (nothing pending: no backfill).
  v1::DecideResponse resp;
  const std::string earlier = rig.RequestWithSecret();
  REQUIRE(rig.broker.Decide("alice", earlier, v1::APPROVE, &resp).ok());
  REQUIRE(rig.broker.Decide("bob", earlier, v1::APPROVE, &resp).ok());
  // While Slack takes the first post, the approval is decided and the app
  // loses its database: nothing of it is recorded, no cursor stored.
  auto posts = std::make_shared<std::atomic<int>>(0);
  rig.slack.OnPost([&rig, posts](const SlackCall& call) {
    if (++*posts != 1) return;
    const std::string id =
        call.body["metadata"]["event_payload"].value("approval_id", "");
    v1::DecideResponse r;
    CHECK(rig.broker.Decide("alice", id, v1::APPROVE, &r).ok());
    CHECK(rig.broker.Decide("bob", id, v1::APPROVE, &r).ok());
    EndChatSessions(rig);
  });
  rig.StartApp();
  const std::string id = rig.RequestWithSecret();

  REQUIRE(rig.AwaitUpdate("*Approved*"));
  const std::vector<nlohmann::json> posted = MessagesFor(rig, id);
  REQUIRE(posted.size() == 1);
  const std::vector<SlackCall> updates = rig.slack.Calls("chat.update");
  REQUIRE_FALSE(updates.empty());
  CHECK(updates.back().body.value("ts", "") == posted[0].value("ts", ""));
  CHECK(CountContaining(rig.slack.Calls("chat.postMessage"), id) == 1);
}

}  // namespace
}  // namespace approval::testing
