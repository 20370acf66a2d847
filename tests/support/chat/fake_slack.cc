#include "tests/support/chat/fake_slack.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <stdexcept>

#include "CivetServer.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bots/slack.h"
#include "server/common/http_post.h"

namespace approval::testing {

class FakeSlack::Handler final : public CivetHandler {
 public:
  explicit Handler(FakeSlack& fake) : fake_(fake) {}

  bool handlePost(CivetServer*, mg_connection* conn) override {
    const mg_request_info* info = mg_get_request_info(conn);
    std::string uri = info->local_uri;
    const std::string prefix = "/api/";
    std::string method =
        uri.rfind(prefix, 0) == 0 ? uri.substr(prefix.size()) : uri;
    std::string body;
    char buf[4096];
    int n;
    while ((n = mg_read(conn, buf, sizeof(buf))) > 0) body.append(buf, n);
    const char* auth = mg_get_header(conn, "Authorization");
    const nlohmann::json answered =
        fake_.Record(method, auth ? auth : "", body);
    if (method == "chat.postMessage" && answered.value("ok", false)) {
      SlackCall call{method, auth ? auth : "", body,
                     nlohmann::json::parse(body, nullptr, false), answered};
      fake_.RunPostHook(call);
    }
    const std::string answer = answered.dump();
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json; "
              "charset=utf-8\r\nContent-Length: %zu\r\nConnection: "
              "close\r\n\r\n%s",
              answer.size(), answer.c_str());
    return true;
  }

 private:
  FakeSlack& fake_;
};

FakeSlack::FakeSlack(std::string bot_token)
    : bot_token_(std::move(bot_token)),
      handler_(std::make_unique<Handler>(*this)) {
  server_ = std::make_unique<CivetServer>(
      std::vector<std::string>{"listening_ports", "127.0.0.1:0", "num_threads",
                               "4", "enable_keep_alive", "no"});
  server_->addHandler("/api/", handler_.get());
}

FakeSlack::~FakeSlack() { server_->close(); }

std::string FakeSlack::base_url() const {
  return absl::StrCat("http://127.0.0.1:", server_->getListeningPorts()[0],
                      "/api");
}

nlohmann::json FakeSlack::Record(const std::string& method,
                                 const std::string& authorization,
                                 const std::string& body) {
  SlackCall call{method, authorization, body,
                 nlohmann::json::parse(body, nullptr, false), nullptr};
  if (call.body.is_discarded()) call.body = nullptr;
  absl::MutexLock lock(&mu_);
  calls_.push_back(call);
  if (authorization != "Bearer " + bot_token_) {
    return {{"ok", false}, {"error", "invalid_auth"}};
  }
  if (!call.body.is_object()) {
    return {{"ok", false}, {"error", "invalid_json"}};
  }
  if (method == "auth.test") {
    return {{"ok", true},         {"url", "https://example.slack.com/"},
            {"team", "Example"},  {"user", "approval-chat"},
            {"team_id", "T0123"}, {"user_id", "U0APPROVALBOT"},
            {"bot_id", kBotId},   {"is_enterprise_install", false}};
  }
  if (method == "conversations.history") return History(call.body);
  if (method == "views.open") {
    if (!call.body.contains("trigger_id") || !call.body.contains("view")) {
      return {{"ok", false}, {"error", "invalid_arguments"}};
    }
    return {{"ok", true},
            {"view",
             {{"id", absl::StrCat("V", next_ts_++)},
              {"callback_id", call.body["view"].value("callback_id", "")}}}};
  }
  if (!call.body.contains("channel")) {
    return {{"ok", false}, {"error", "channel_not_found"}};
  }
  const nlohmann::json channel = call.body["channel"];
  if (method == "chat.postMessage") {
    const std::string ts = NextTs();
    nlohmann::json stored = {{"type", "message"},
                             {"user", "U0APPROVALBOT"},
                             {"bot_id", kBotId},
                             {"app_id", "A0APP"},
                             {"text", call.body.value("text", "")},
                             {"ts", ts}};
    if (call.body.contains("metadata")) {
      stored["metadata"] = call.body["metadata"];
    }
    history_[channel.is_string() ? channel.get<std::string>() : ""].push_back(
        std::move(stored));
    calls_.back().answer = {
        {"ok", true},
        {"channel", channel},
        {"ts", ts},
        {"message", {{"text", call.body.value("text", "")}, {"ts", ts}}}};
    return calls_.back().answer;
  }
  if (method == "chat.update") {
    return {{"ok", true},
            {"channel", channel},
            {"ts", call.body.value("ts", "")},
            {"text", call.body.value("text", "")}};
  }
  if (method == "chat.postEphemeral") {
    return {{"ok", true},
            {"message_ts", absl::StrCat("1700000001.", 100000 + next_ts_++)}};
  }
  return {{"ok", false}, {"error", "unknown_method"}};
}

void FakeSlack::OnPost(std::function<void(const SlackCall&)> hook) {
  absl::MutexLock lock(&mu_);
  post_hook_ = std::move(hook);
}

void FakeSlack::RunPostHook(const SlackCall& call) {
  std::function<void(const SlackCall&)> hook;
  {
    absl::MutexLock lock(&mu_);
    hook = post_hook_;
  }
  if (hook) hook(call);
}

std::string FakeSlack::AddMessage(const std::string& channel,
                                  nlohmann::json message) {
  absl::MutexLock lock(&mu_);
  const std::string ts = NextTs();
  message["ts"] = ts;
  if (!message.contains("type")) message["type"] = "message";
  history_[channel].push_back(std::move(message));
  return ts;
}

std::vector<nlohmann::json> FakeSlack::Messages(
    const std::string& channel) const {
  absl::MutexLock lock(&mu_);
  auto it = history_.find(channel);
  return it == history_.end() ? std::vector<nlohmann::json>{} : it->second;
}

void FakeSlack::set_history_scope(bool granted) {
  absl::MutexLock lock(&mu_);
  history_scope_ = granted;
}

void FakeSlack::set_history_page_size(size_t n) {
  absl::MutexLock lock(&mu_);
  history_page_size_ = n;
}

void FakeSlack::set_ts_clock(std::function<absl::Time()> clock) {
  absl::MutexLock lock(&mu_);
  ts_clock_ = std::move(clock);
}

std::string FakeSlack::NextTs() {
  if (!ts_clock_) return absl::StrCat("1700000000.", 100000 + next_ts_++);
  last_ts_micros_ =
      std::max(last_ts_micros_ + 1, absl::ToUnixMicros(ts_clock_()));
  return absl::StrFormat("%d.%06d", last_ts_micros_ / 1000000,
                         last_ts_micros_ % 1000000);
}

namespace {

// A ts or oldest/latest ("1700000000.100001") in microseconds; -1 if it is
// not one.
int64_t TsMicros(const nlohmann::json& v) {
  if (!v.is_string()) return -1;
  const std::string s = v.get<std::string>();
  const size_t dot = s.find('.');
  int64_t secs = 0;
  int64_t micros = 0;
  if (!absl::SimpleAtoi(s.substr(0, dot), &secs)) return -1;
  if (dot != std::string::npos) {
    std::string frac = s.substr(dot + 1).substr(0, 6);
    frac.resize(6, '0');
    if (!absl::SimpleAtoi(frac, &micros)) return -1;
  }
  return secs * 1000000 + micros;
}

bool Truthy(const nlohmann::json& v) {
  return (v.is_boolean() && v.get<bool>()) ||
         (v.is_string() && (v == "true" || v == "1")) ||
         (v.is_number_integer() && v.get<int>() == 1);
}

}  // namespace

// conversations.history as Slack documents it: messages newer than `oldest`
// (and older than `latest`), newest first, at most `limit` a page, paged by
// response_metadata.next_cursor; metadata only with include_all_metadata.
nlohmann::json FakeSlack::History(const nlohmann::json& args) const {
  if (!history_scope_) {
    return {{"ok", false},
            {"error", "missing_scope"},
            {"needed",
             "channels:history,groups:history,mpim:history,"
             "im:history"},
            {"provided", "chat:write"}};
  }
  if (!args.contains("channel") || !args["channel"].is_string()) {
    return {{"ok", false}, {"error", "channel_not_found"}};
  }
  const bool inclusive =
      args.contains("inclusive") && Truthy(args["inclusive"]);
  int64_t oldest = 0;
  int64_t latest = INT64_MAX;
  if (args.contains("oldest")) oldest = TsMicros(args["oldest"]);
  if (args.contains("latest")) latest = TsMicros(args["latest"]);
  if (oldest < 0 || latest < 0) {
    return {{"ok", false}, {"error", "invalid_ts_oldest"}};
  }
  size_t limit = 100;
  if (args.contains("limit")) {
    const nlohmann::json& l = args["limit"];
    int n = 0;
    if (l.is_number_integer()) {
      n = l.get<int>();
    } else if (!l.is_string() || !absl::SimpleAtoi(l.get<std::string>(), &n)) {
      return {{"ok", false}, {"error", "invalid_limit"}};
    }
    if (n < 1) n = 100;
    limit = static_cast<size_t>(std::min(n, 999));
  }
  limit = std::min(limit, history_page_size_);
  size_t offset = 0;
  if (args.contains("cursor") && args["cursor"] != "") {
    const nlohmann::json& c = args["cursor"];
    if (!c.is_string() || !absl::StartsWith(c.get<std::string>(), "bmV4dDo") ||
        !absl::SimpleAtoi(c.get<std::string>().substr(7), &offset)) {
      return {{"ok", false}, {"error", "invalid_cursor"}};
    }
  }
  std::vector<nlohmann::json> matching;
  auto it = history_.find(args["channel"].get<std::string>());
  if (it != history_.end()) {
    for (auto m = it->second.rbegin(); m != it->second.rend(); ++m) {
      const int64_t ts = TsMicros((*m)["ts"]);
      const bool after = inclusive ? ts >= oldest : ts > oldest;
      const bool before = inclusive ? ts <= latest : ts < latest;
      if (after && before) matching.push_back(*m);
    }
  }
  const bool metadata = args.contains("include_all_metadata") &&
                        Truthy(args["include_all_metadata"]);
  nlohmann::json messages = nlohmann::json::array();
  for (size_t i = offset; i < matching.size() && i < offset + limit; ++i) {
    nlohmann::json m = matching[i];
    if (!metadata) m.erase("metadata");
    messages.push_back(std::move(m));
  }
  const bool has_more = offset + limit < matching.size();
  return {{"ok", true},
          {"messages", messages},
          {"has_more", has_more},
          {"pin_count", 0},
          {"response_metadata",
           {{"next_cursor",
             has_more ? absl::StrCat("bmV4dDo", offset + limit) : ""}}}};
}

std::vector<SlackCall> FakeSlack::Calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

std::vector<SlackCall> FakeSlack::Calls(const std::string& method) const {
  std::vector<SlackCall> out;
  for (SlackCall& c : Calls()) {
    if (c.method == method) out.push_back(std::move(c));
  }
  return out;
}

bool FakeSlack::Await(
    const std::function<bool(const std::vector<SlackCall>&)>& pred,
    absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto holds = [&]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pred(calls_); };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

namespace {

std::string FormEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace

std::string BlockActionsBody(const std::string& team, const std::string& user,
                             const std::string& action_id,
                             const std::string& approval_id,
                             const std::string& channel,
                             const std::string& ts) {
  const nlohmann::json payload = {
      {"type", "block_actions"},
      {"team", {{"id", team}, {"domain", "example"}}},
      {"user", {{"id", user}, {"username", "someone"}, {"team_id", team}}},
      {"api_app_id", "A0APP"},
      {"container",
       {{"type", "message"}, {"message_ts", ts}, {"channel_id", channel}}},
      {"channel", {{"id", channel}, {"name", "approvals"}}},
      {"response_url", "https://hooks.slack.com/actions/T/1/x"},
      {"trigger_id", "1.2.3"},
      {"actions",
       {{{"type", "button"},
         {"action_id", action_id},
         {"block_id", "approval_decision"},
         {"value", approval_id},
         {"action_ts", "1700000002.000001"}}}}};
  return "payload=" + FormEncode(payload.dump());
}

std::string ViewSubmissionBody(const std::string& team, const std::string& user,
                               const std::string& private_metadata,
                               const std::string& reason) {
  const nlohmann::json payload = {
      {"type", "view_submission"},
      {"team", {{"id", team}, {"domain", "example"}}},
      {"user", {{"id", user}, {"username", "someone"}, {"team_id", team}}},
      {"api_app_id", "A0APP"},
      {"view",
       {{"id", "V1"},
        {"type", "modal"},
        {"callback_id", chat::kDenyReasonCallbackId},
        {"private_metadata", private_metadata},
        {"state",
         {{"values",
           {{chat::kDenyReasonBlockId,
             {{chat::kDenyReasonActionId,
               {{"type", "plain_text_input"}, {"value", reason}}}}}}}}}}}};
  return "payload=" + FormEncode(payload.dump());
}

HttpAnswer PostInteraction(int port, const std::string& body,
                           const std::string& secret, int64_t timestamp,
                           const std::string& signature) {
  HttpPostRequest req;
  req.url = absl::StrCat("http://127.0.0.1:", port, "/slack/interactions");
  req.allow_http = true;
  req.content_type = "application/x-www-form-urlencoded";
  const std::string ts = absl::StrCat(timestamp);
  req.headers = {
      {"X-Slack-Request-Timestamp", ts},
      {"X-Slack-Signature",
       signature.empty() ? chat::SlackSignatureVerifier::Sign(secret, ts, body)
                         : signature}};
  req.body = body;
  req.timeout = absl::Seconds(30);
  absl::StatusOr<HttpResponse> resp = HttpPost(req);
  if (!resp.ok()) return {};
  return {resp->status, resp->body};
}

}  // namespace approval::testing
