#include "tests/support/chat/fake_slack.h"

#include <cctype>
#include <stdexcept>

#include "CivetServer.h"
#include "absl/strings/str_cat.h"
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
    const std::string answer =
        fake_.Record(method, auth ? auth : "", body).dump();
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
    const std::string ts = absl::StrCat("1700000000.", 100000 + next_ts_++);
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
