// approval-chat-fakes: the fake Slack and Microsoft Teams of the tests
// (FakeSlack, FakeBotFramework, BotFrameworkKeys) as a program, to try
// approval-chat out next to the demo broker without a real workspace
// (scripts/try-chat.sh; README "Try it against fake Slack and Teams"). For a
// laptop only: it makes throw-away secrets and a throw-away CA, and listens on
// 127.0.0.1.
//
//   approval-chat-fakes serve --dir DIR --chat-port PORT --slack-team T
//       --teams-tenant GUID [--user NAME=SLACK_USER_ID,AAD_OBJECT_ID]...
//     Writes into DIR the secrets approval-chat's config names
//     (slack-bot-token, slack-signing-secret, teams-app-secret,
//     openid-ca.pem) and fakes.env (the URLs to configure, for a shell to
//     source; fakes.json: the same for `click`), then prints every
//     message posted or updated in either platform as text, until SIGINT or
//     SIGTERM. PORT is approval-chat's listen port: clicks are sent there.
//   approval-chat-fakes click --dir DIR slack|teams USER approve|deny
//       APPROVAL_ID [REASON]
//     Plays USER (a NAME given to serve, or a platform user id) clicking a
//     button of that approval's message, as the platform would: a signed
//     Slack interaction (Deny: the button, then the reason dialog submitted)
//     or a Teams Action.Execute invoke with a Bot Framework token. Prints the
//     outcome; exit 0 if approval-chat took the click, 1 if it was refused
//     (the reason is printed), 2 on usage or connection errors.
#include <signal.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "CivetServer.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bots/slack.h"
#include "nlohmann/json.hpp"
#include "openssl/rand.h"
#include "server/common/http_post.h"
#include "tests/support/chat/bot_framework_keys.h"
#include "tests/support/chat/fake_slack.h"
#include "tests/support/chat/fake_teams.h"

namespace approval::testing {
namespace {

using Json = nlohmann::json;

constexpr char kUsage[] =
    "usage: approval-chat-fakes serve --dir DIR --chat-port PORT "
    "--slack-team T --teams-tenant GUID [--user NAME=SLACK_ID,AAD_ID]...\n"
    "       approval-chat-fakes click --dir DIR slack|teams USER "
    "approve|deny APPROVAL_ID [REASON]\n";

// The Microsoft App ID of the fake bot registration.
constexpr char kAppId[] = "00000000-0000-4000-8000-0000000a9901";
// The Teams channel the cards go to.
constexpr char kConversation[] = "19:approvals@thread.tacv2";

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> b(bytes);
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) std::abort();
  std::string out;
  for (unsigned char c : b)
    absl::StrAppend(&out, absl::Hex(c, absl::kZeroPad2));
  return out;
}

// Writes `contents` to `path` (mode 600) through a rename, so a reader never
// sees half of it.
bool WriteFile(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << contents;
    if (!out.flush()) return false;
  }
  return ::chmod(tmp.c_str(), 0600) == 0 &&
         std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `urls` (string values of URL characters only) as KEY='value' lines for a
// shell script to source: {"slack_api_base_url": ...} ->
// SLACK_API_BASE_URL='...'.
std::string ShellAssignments(const Json& urls) {
  std::string out;
  for (auto it = urls.begin(); it != urls.end(); ++it) {
    std::string key = it.key();
    for (char& c : key) c = static_cast<char>(std::toupper(c));
    const std::string value = it.value().get<std::string>();
    if (value.find('\'') != std::string::npos) std::abort();
    absl::StrAppend(&out, key, "='", value, "'\n");
  }
  return out;
}

// ------------------------------------------------------------ text of a card

// What a person reads in a Block Kit message or an Adaptive Card: its lines,
// its buttons ("[Approve]") and the approval id the buttons carry.
struct Readout {
  std::vector<std::string> lines;
  std::vector<std::string> buttons;
  std::string approval_id;
};

void Walk(const Json& j, Readout* r) {
  if (j.is_array()) {
    for (const Json& e : j) Walk(e, r);
    return;
  }
  if (!j.is_object()) return;
  const std::string type = j.value("type", "");
  if (type == "button" && j.contains("text") && j["text"].is_object()) {
    r->buttons.push_back(absl::StrCat("[", j["text"].value("text", ""), "]"));
    r->approval_id = j.value("value", "");
    return;
  }
  if (type == "Action.Execute") {
    r->buttons.push_back(absl::StrCat("[", j.value("title", ""), "]"));
    if (j.contains("data") && j["data"].is_object()) {
      r->approval_id = j["data"].value("approval_id", "");
    }
    return;
  }
  if (type == "Input.Text") {
    r->lines.push_back(absl::StrCat(
        "(", j.value("label", j.value("placeholder", "text input")), ")"));
    return;
  }
  if (j.contains("text") && j["text"].is_string() &&
      (type == "mrkdwn" || type == "plain_text" || type == "TextBlock")) {
    r->lines.push_back(j["text"].get<std::string>());
  }
  if (j.contains("text") && j["text"].is_object()) Walk(j["text"], r);
  if (j.contains("facts") && j["facts"].is_array()) {
    for (const Json& f : j["facts"]) {
      if (!f.is_object()) continue;
      r->lines.push_back(
          absl::StrCat(f.value("title", ""), ": ", f.value("value", "")));
    }
  }
  for (const char* key : {"blocks", "fields", "elements", "attachments",
                          "content", "body", "actions"}) {
    if (j.contains(key)) Walk(j[key], r);
  }
}

// The message as indented lines, buttons last, and "approval <id>" first
// when it has buttons.
std::string Readable(const Json& message, const std::string& indent) {
  Readout r;
  Walk(message, &r);
  std::vector<std::string> lines;
  if (!r.approval_id.empty()) lines.push_back("approval " + r.approval_id);
  lines.insert(lines.end(), r.lines.begin(), r.lines.end());
  if (!r.buttons.empty()) lines.push_back(absl::StrJoin(r.buttons, " "));
  std::string out;
  for (const std::string& line : lines) {
    for (absl::string_view part : absl::StrSplit(line, '\n')) {
      absl::StrAppend(&out, indent, part, "\n");
    }
  }
  return out;
}

// ------------------------------------------------------------------- serve

struct User {
  std::string slack;
  std::string teams;
};

struct Platforms {
  Platforms(const std::string& bot_token, const std::string& app_secret)
      : slack(bot_token), bot_framework(kAppId, app_secret), keys(kAppId) {}
  FakeSlack slack;
  FakeBotFramework bot_framework;
  BotFrameworkKeys keys;
};

struct ClickRequest {
  std::string platform;
  std::string user;
  std::string verb;
  std::string approval_id;
  std::string reason;
};

struct ClickResult {
  bool taken = false;
  std::string text;
};

class Clicker final : public CivetHandler {
 public:
  Clicker(Platforms& p, int chat_port, std::string team, std::string tenant,
          std::string signing_secret, std::map<std::string, User> users)
      : p_(p),
        chat_port_(chat_port),
        team_(std::move(team)),
        tenant_(std::move(tenant)),
        signing_secret_(std::move(signing_secret)),
        users_(std::move(users)) {}

  bool handlePost(CivetServer*, mg_connection* conn) override {
    std::string body;
    char buf[4096];
    int n;
    while ((n = mg_read(conn, buf, sizeof(buf))) > 0 && body.size() < 65536) {
      body.append(buf, n);
    }
    const Json in = Json::parse(body, nullptr, false);
    Json out;
    if (!in.is_object()) {
      out = {{"taken", false}, {"text", "the click must be a JSON object"}};
    } else {
      ClickRequest c{in.value("platform", ""), in.value("user", ""),
                     in.value("verb", ""), in.value("approval_id", ""),
                     in.value("reason", "")};
      const ClickResult r = Click(c);
      out = {{"taken", r.taken}, {"text", r.text}};
    }
    const std::string answer = out.dump();
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
              answer.size(), answer.c_str());
    return true;
  }

 private:
  ClickResult Click(const ClickRequest& c) {
    if (c.verb != "approve" && c.verb != "deny") {
      return {false, "the verb is approve or deny"};
    }
    if (c.platform == "slack") return ClickSlack(c);
    if (c.platform == "teams") return ClickTeams(c);
    return {false, "the platform is slack or teams"};
  }

  std::string SlackUser(const std::string& name) const {
    auto it = users_.find(name);
    return it == users_.end() ? name : it->second.slack;
  }
  std::string TeamsUser(const std::string& name) const {
    auto it = users_.find(name);
    return it == users_.end() ? name : it->second.teams;
  }

  // The ephemeral message Slack got for `user` after call number `since`.
  std::string EphemeralFor(const std::string& user, size_t since) const {
    const std::vector<SlackCall> calls = p_.slack.Calls();
    for (size_t i = since; i < calls.size(); ++i) {
      if (calls[i].method == "chat.postEphemeral" &&
          calls[i].body.is_object() &&
          calls[i].body.value("user", "") == user) {
        return calls[i].body.value("text", "");
      }
    }
    return "";
  }

  ClickResult ClickSlack(const ClickRequest& c) {
    std::string channel, ts;
    for (const SlackCall& call : p_.slack.Calls("chat.postMessage")) {
      if (absl::StrContains(call.raw_body, c.approval_id) &&
          call.answer.is_object()) {
        channel = call.body.value("channel", "");
        ts = call.answer.value("ts", "");
      }
    }
    if (ts.empty()) {
      return {false, "fake Slack has no message for that approval"};
    }
    const std::string user = SlackUser(c.user);
    const size_t before = p_.slack.Calls().size();
    HttpAnswer a = PostInteraction(
        chat_port_,
        BlockActionsBody(
            team_, user,
            c.verb == "approve" ? chat::kApproveActionId : chat::kDenyActionId,
            c.approval_id, channel, ts),
        signing_secret_, absl::ToUnixSeconds(absl::Now()));
    if (a.status != 200) {
      return {false, absl::StrCat("approval-chat answered HTTP ", a.status,
                                  ": ", a.body)};
    }
    if (std::string e = EphemeralFor(user, before); !e.empty()) {
      return {false, e};
    }
    if (c.verb == "approve") return {true, "clicked Approve"};
    // Deny: approval-chat opened the reason dialog; submit it.
    std::string metadata;
    for (const SlackCall& call : p_.slack.Calls("views.open")) {
      if (call.body.is_object() && call.body.contains("view") &&
          call.body["view"].is_object()) {
        metadata = call.body["view"].value("private_metadata", "");
      }
    }
    if (metadata.empty()) return {false, "no Deny dialog was opened"};
    a = PostInteraction(chat_port_,
                        ViewSubmissionBody(team_, user, metadata, c.reason),
                        signing_secret_, absl::ToUnixSeconds(absl::Now()));
    if (a.status != 200) {
      return {false, absl::StrCat("approval-chat answered HTTP ", a.status,
                                  ": ", a.body)};
    }
    // A refusal comes back as errors shown under the dialog's text field.
    const Json answer = Json::parse(a.body, nullptr, false);
    if (answer.is_object() && answer.value("response_action", "") == "errors") {
      return {false, answer.contains("errors") ? answer["errors"].dump() : ""};
    }
    return {true, "clicked Deny and gave the reason"};
  }

  ClickResult ClickTeams(const ClickRequest& c) {
    const std::string service_url = p_.bot_framework.service_url();
    const HttpAnswer a = PostTeamsActivity(
        chat_port_, p_.keys.Bearer(p_.keys.GoodClaims(service_url)),
        InvokeActivity(tenant_, TeamsUser(c.user), c.verb, c.approval_id,
                       c.reason, service_url)
            .dump());
    if (a.status != 200) {
      return {false, absl::StrCat("approval-chat answered HTTP ", a.status,
                                  ": ", a.body)};
    }
    const Json answer = Json::parse(a.body, nullptr, false);
    if (!answer.is_object() || !answer.contains("value") ||
        !answer["value"].is_object()) {
      return {false, "approval-chat's invoke answer carries no card"};
    }
    const Json& body = answer["value"]["body"];
    // A refusal is the card with a line in the Attention colour on top.
    if (body.is_array() && !body.empty() && body[0].is_object() &&
        body[0].value("color", "") == "Attention") {
      return {false, body[0].value("text", "")};
    }
    return {true, "the card now reads:\n" + Readable(answer["value"], "    ")};
  }

  Platforms& p_;
  const int chat_port_;
  const std::string team_;
  const std::string tenant_;
  const std::string signing_secret_;
  const std::map<std::string, User> users_;
};

// Prints the calls after the first `*seen`, as a person would see them.
void PrintNew(const Platforms& p, size_t* slack_seen, size_t* teams_seen) {
  const std::vector<SlackCall> slack = p.slack.Calls();
  for (size_t i = *slack_seen; i < slack.size(); ++i) {
    const SlackCall& c = slack[i];
    if (!c.body.is_object()) continue;
    const std::string channel = c.body.value("channel", "");
    if (c.method == "chat.postMessage") {
      std::cout << "[slack " << channel << "] new message "
                << (c.answer.is_object() ? c.answer.value("ts", "") : "")
                << ":\n"
                << Readable(c.body, "    ");
    } else if (c.method == "chat.update") {
      std::cout << "[slack " << channel << "] message "
                << c.body.value("ts", "") << " updated:\n"
                << Readable(c.body, "    ");
    } else if (c.method == "chat.postEphemeral") {
      std::cout << "[slack " << channel << "] only " << c.body.value("user", "")
                << " sees: " << c.body.value("text", "") << "\n";
    } else if (c.method == "views.open") {
      std::cout << "[slack] a Deny reason dialog opened\n";
    } else {
      std::cout << "[slack] " << c.method << "\n";
    }
  }
  *slack_seen = slack.size();
  const std::vector<TeamsCall> teams = p.bot_framework.Calls();
  for (size_t i = *teams_seen; i < teams.size(); ++i) {
    const TeamsCall& c = teams[i];
    if (!absl::StartsWith(c.path, "/v3/")) continue;  // token requests
    std::cout << "[teams " << kConversation << "] "
              << (c.method == "POST" ? "new card" : "card updated") << " ("
              << c.method << " " << c.path << "):\n"
              << Readable(c.body, "    ");
  }
  *teams_seen = teams.size();
  std::cout.flush();
}

int Serve(const std::map<std::string, std::string>& flags,
          const std::map<std::string, User>& users) {
  for (const char* f : {"dir", "chat-port", "slack-team", "teams-tenant"}) {
    if (flags.count(f) == 0) {
      std::cerr << "--" << f << " is required\n" << kUsage;
      return 2;
    }
  }
  const std::string dir = flags.at("dir");
  int chat_port = 0;
  if (!absl::SimpleAtoi(flags.at("chat-port"), &chat_port) || chat_port <= 0 ||
      chat_port > 65535) {
    std::cerr << "--chat-port: not a port\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string bot_token = "xoxb-fake-" + RandomHex(12);
  const std::string signing_secret = RandomHex(16);
  const std::string app_secret = RandomHex(16);
  Platforms p(bot_token, app_secret);
  Clicker clicker(p, chat_port, flags.at("slack-team"),
                  flags.at("teams-tenant"), signing_secret, users);
  CivetServer control(std::vector<std::string>{"listening_ports", "127.0.0.1:0",
                                               "num_threads", "2"});
  control.addHandler("/click", &clicker);

  const Json urls = {
      {"slack_api_base_url", p.slack.base_url()},
      {"teams_app_id", kAppId},
      {"teams_service_url", p.bot_framework.service_url()},
      {"teams_token_url", p.bot_framework.token_url()},
      {"teams_conversation_id", kConversation},
      {"openid_metadata_url", p.keys.metadata_url()},
      {"click_url", absl::StrCat("http://127.0.0.1:",
                                 control.getListeningPorts()[0], "/click")}};
  if (!WriteFile(dir + "/slack-bot-token", bot_token + "\n") ||
      !WriteFile(dir + "/slack-signing-secret", signing_secret + "\n") ||
      !WriteFile(dir + "/teams-app-secret", app_secret + "\n") ||
      !WriteFile(dir + "/openid-ca.pem", ReadFile(p.keys.ca_file())) ||
      !WriteFile(dir + "/fakes.env", ShellAssignments(urls)) ||
      !WriteFile(dir + "/fakes.json", urls.dump(2) + "\n")) {
    std::cerr << "cannot write into " << dir << "\n";
    return 2;
  }
  std::cout << "fake Slack (workspace " << flags.at("slack-team")
            << ") and Teams (tenant " << flags.at("teams-tenant")
            << ") are up; what approval-chat posts shows here\n";
  std::cout.flush();

  size_t slack_seen = 0, teams_seen = 0;
  const timespec tick = {0, 200 * 1000 * 1000};
  while (sigtimedwait(&signals, nullptr, &tick) < 0) {
    PrintNew(p, &slack_seen, &teams_seen);
  }
  PrintNew(p, &slack_seen, &teams_seen);
  control.close();
  return 0;
}

// ------------------------------------------------------------------- click

int ClickCommand(const std::string& dir, const std::vector<std::string>& args) {
  if (args.size() < 4 || args.size() > 5) {
    std::cerr << kUsage;
    return 2;
  }
  const Json urls = Json::parse(ReadFile(dir + "/fakes.json"), nullptr, false);
  if (!urls.is_object() || !urls.contains("click_url")) {
    std::cerr << dir << "/fakes.json: not found; is `approval-chat-fakes "
              << "serve` running?\n";
    return 2;
  }
  HttpPostRequest req;
  req.url = urls.value("click_url", "");
  req.allow_http = true;
  req.body = Json{{"platform", args[0]},
                  {"user", args[1]},
                  {"verb", args[2]},
                  {"approval_id", args[3]},
                  {"reason", args.size() == 5 ? args[4] : ""}}
                 .dump();
  req.timeout = absl::Seconds(60);
  absl::StatusOr<HttpResponse> resp = HttpPost(req);
  if (!resp.ok() || resp->status != 200) {
    std::cerr << "the fakes did not answer: "
              << (resp.ok() ? absl::StrCat("HTTP ", resp->status)
                            : resp.status().ToString())
              << "\n";
    return 2;
  }
  const Json answer = Json::parse(resp->body, nullptr, false);
  if (!answer.is_object()) {
    std::cerr << "the fakes answered something else than JSON\n";
    return 2;
  }
  const bool taken = answer.value("taken", false);
  std::cout << (taken ? "" : "refused: ") << answer.value("text", "") << "\n";
  return taken ? 0 : 1;
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  std::map<std::string, std::string> flags;
  std::map<std::string, User> users;
  std::vector<std::string> positional;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (absl::StartsWith(arg, "--") && i + 1 < argc) {
      const std::string name = arg.substr(2);
      const std::string value = argv[++i];
      if (name == "user") {
        std::vector<std::string> parts = absl::StrSplit(value, '=');
        std::vector<std::string> ids = parts.size() == 2
                                           ? absl::StrSplit(parts[1], ',')
                                           : std::vector<std::string>{};
        if (ids.size() != 2) {
          std::cerr << "--user NAME=SLACK_USER_ID,AAD_OBJECT_ID\n";
          return 2;
        }
        users[parts[0]] = User{ids[0], ids[1]};
      } else {
        flags[name] = value;
      }
    } else {
      positional.push_back(arg);
    }
  }
  if (command == "serve" && positional.empty()) return Serve(flags, users);
  if (command == "click" && flags.count("dir") == 1 && flags.size() == 1) {
    return ClickCommand(flags.at("dir"), positional);
  }
  std::cerr << kUsage;
  return 2;
}

}  // namespace
}  // namespace approval::testing

int main(int argc, char** argv) { return approval::testing::Main(argc, argv); }
