#include "tests/support/chat/fake_teams.h"

#include "CivetServer.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/http_post.h"

namespace approval::testing {

class FakeBotFramework::Handler final : public CivetHandler {
 public:
  explicit Handler(FakeBotFramework& fake) : fake_(fake) {}

  bool handlePost(CivetServer*, mg_connection* conn) override {
    return Handle("POST", conn);
  }
  bool handlePut(CivetServer*, mg_connection* conn) override {
    return Handle("PUT", conn);
  }

 private:
  bool Handle(const std::string& method, mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    std::string body;
    char buf[4096];
    int n;
    while ((n = mg_read(conn, buf, sizeof(buf))) > 0) body.append(buf, n);
    const char* auth = mg_get_header(conn, "Authorization");
    const auto [status, answer] =
        fake_.Record(method, info->local_uri, auth ? auth : "", body);
    const std::string text = answer.dump();
    mg_printf(conn,
              "HTTP/1.1 %d X\r\nContent-Type: application/json; "
              "charset=utf-8\r\nContent-Length: %zu\r\nConnection: "
              "close\r\n\r\n%s",
              status, text.size(), text.c_str());
    return true;
  }

  FakeBotFramework& fake_;
};

FakeBotFramework::FakeBotFramework(std::string app_id, std::string app_secret)
    : app_id_(std::move(app_id)),
      app_secret_(std::move(app_secret)),
      handler_(std::make_unique<Handler>(*this)) {
  server_ = std::make_unique<CivetServer>(
      std::vector<std::string>{"listening_ports", "127.0.0.1:0", "num_threads",
                               "4", "enable_keep_alive", "no"});
  server_->addHandler("/", handler_.get());
}

FakeBotFramework::~FakeBotFramework() { server_->close(); }

std::string FakeBotFramework::service_url() const {
  return absl::StrCat("http://127.0.0.1:", server_->getListeningPorts()[0],
                      "/");
}

std::string FakeBotFramework::token_url() const {
  return absl::StrCat(service_url(), "botframework.com/oauth2/v2.0/token");
}

std::vector<TeamsCall> FakeBotFramework::Calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

std::vector<TeamsCall> FakeBotFramework::Calls(
    const std::string& method, const std::string& needle) const {
  std::vector<TeamsCall> out;
  for (const TeamsCall& c : Calls()) {
    if (c.method == method && absl::StrContains(c.path, needle)) {
      out.push_back(c);
    }
  }
  return out;
}

bool FakeBotFramework::Await(
    const std::function<bool(const std::vector<TeamsCall>&)>& pred,
    absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto holds = [&]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pred(calls_); };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

std::pair<int, nlohmann::json> FakeBotFramework::Record(
    const std::string& method, const std::string& path,
    const std::string& authorization, const std::string& body) {
  TeamsCall call{method, path, authorization, body,
                 nlohmann::json::parse(body, nullptr, false)};
  if (call.body.is_discarded()) call.body = nullptr;
  absl::MutexLock lock(&mu_);
  calls_.push_back(call);
  if (method == "POST" && path == "/botframework.com/oauth2/v2.0/token") {
    std::map<std::string, std::string> form;
    for (absl::string_view kv : absl::StrSplit(body, '&')) {
      std::pair<std::string, std::string> p = absl::StrSplit(kv, '=');
      form[p.first] = p.second;
    }
    if (form["grant_type"] != "client_credentials" ||
        form["client_id"] != app_id_ || form["client_secret"] != app_secret_ ||
        form["scope"] != "https%3A%2F%2Fapi.botframework.com%2F.default") {
      return {400, {{"error", "invalid_client"}}};
    }
    const std::string token = absl::StrCat("bf-access-", next_id_++);
    issued_.insert(token);
    return {200,
            {{"token_type", "Bearer"},
             {"expires_in", 3600},
             {"ext_expires_in", 3600},
             {"access_token", token}}};
  }
  const std::vector<std::string> parts = absl::StrSplit(path, '/');
  // "", "v3", "conversations", id, "activities"[, activity id]
  const bool post = method == "POST" && parts.size() == 5;
  const bool put = method == "PUT" && parts.size() == 6;
  if ((!post && !put) || parts[1] != "v3" || parts[2] != "conversations" ||
      parts[4] != "activities") {
    return {404, {{"error", {{"code", "NotFound"}}}}};
  }
  if (!absl::StartsWith(authorization, "Bearer ") ||
      issued_.count(authorization.substr(7)) == 0) {
    return {401, {{"error", {{"code", "Unauthorized"}}}}};
  }
  if (!call.body.is_object()) {
    return {400, {{"error", {{"code", "BadArgument"}}}}};
  }
  if (post) return {201, {{"id", absl::StrCat("1:act-", next_id_++)}}};
  return {200, {{"id", parts[5]}}};
}

nlohmann::json InvokeActivity(const std::string& tenant,
                              const std::string& aad_object_id,
                              const std::string& verb,
                              const std::string& approval_id,
                              const std::string& reason,
                              const std::string& service_url) {
  nlohmann::json data = {{"approval_id", approval_id}};
  if (!reason.empty()) data["reason"] = reason;
  return {{"type", "invoke"},
          {"name", "adaptiveCard/action"},
          {"id", "f:1234"},
          {"channelId", "msteams"},
          {"serviceUrl", service_url},
          {"from",
           {{"id", "29:1abc"},
            {"name", "Someone"},
            {"aadObjectId", aad_object_id}}},
          {"conversation",
           {{"id", "19:approvals@thread.tacv2;messageid=1"},
            {"conversationType", "channel"},
            {"tenantId", tenant}}},
          {"recipient", {{"id", "28:bot"}, {"name", "Approvals"}}},
          {"channelData", {{"tenant", {{"id", tenant}}}}},
          {"value",
           {{"action",
             {{"type", "Action.Execute"}, {"verb", verb}, {"data", data}}},
            {"trigger", "manual"}}}};
}

HttpAnswer PostTeamsActivity(int port, const std::string& authorization,
                             const std::string& body) {
  HttpPostRequest req;
  req.url = absl::StrCat("http://127.0.0.1:", port, "/teams/messages");
  req.allow_http = true;
  if (!authorization.empty()) req.headers = {{"Authorization", authorization}};
  req.body = body;
  req.timeout = absl::Seconds(30);
  req.max_response_bytes = 1 << 20;
  absl::StatusOr<HttpResponse> resp = HttpPost(req);
  if (!resp.ok()) return {};
  return {resp->status, resp->body};
}

}  // namespace approval::testing
