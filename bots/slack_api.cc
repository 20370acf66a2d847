#include "bots/slack_api.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/http_post.h"

namespace approval::chat {
namespace {

using Json = nlohmann::json;

// The most of a conversations.history answer read: a page of 100 messages
// with their blocks and metadata (Slack caps a message's text at 40,000
// characters).
constexpr size_t kHistoryAnswerBytes = 8 << 20;

class SlackWebApi final : public SlackApi {
 public:
  SlackWebApi(std::string base_url, std::string token, std::string ca_file,
              absl::Duration timeout, bool allow_http)
      : base_url_(std::move(base_url)),
        token_(std::move(token)),
        ca_file_(std::move(ca_file)),
        timeout_(timeout),
        allow_http_(allow_http) {}

  absl::StatusOr<std::string> PostMessage(const std::string& channel,
                                          const Json& message) override {
    Json body = message;
    body["channel"] = channel;
    body["unfurl_links"] = false;
    absl::StatusOr<Json> answer = Call("chat.postMessage", body);
    if (!answer.ok()) return answer.status();
    auto ts = answer->find("ts");
    if (ts == answer->end() || !ts->is_string() ||
        ts->get<std::string>().empty()) {
      return absl::FailedPreconditionError(
          "chat.postMessage: answer has no ts");
    }
    return ts->get<std::string>();
  }

  absl::Status UpdateMessage(const std::string& channel, const std::string& ts,
                             const Json& message) override {
    Json body = message;
    body["channel"] = channel;
    body["ts"] = ts;
    return Call("chat.update", body).status();
  }

  absl::Status PostEphemeral(const std::string& channel,
                             const std::string& user,
                             const std::string& text) override {
    return Call("chat.postEphemeral",
                {{"channel", channel}, {"user", user}, {"text", text}})
        .status();
  }

  absl::StatusOr<std::string> BotId() override {
    absl::StatusOr<Json> answer = Call("auth.test", Json::object());
    if (!answer.ok()) return answer.status();
    auto bot = answer->find("bot_id");
    if (bot == answer->end() || !bot->is_string() ||
        bot->get<std::string>().empty()) {
      return absl::FailedPreconditionError(
          "auth.test: no bot_id (is slack.bot_token_file a bot token?)");
    }
    return bot->get<std::string>();
  }

  absl::StatusOr<SlackHistoryPage> History(const std::string& channel,
                                           absl::Time oldest,
                                           const std::string& cursor,
                                           int limit) override {
    const int64_t micros = absl::ToUnixMicros(oldest);
    Json body = {{"channel", channel},
                 {"oldest", absl::StrFormat("%d.%06d", micros / 1000000,
                                            micros % 1000000)},
                 {"include_all_metadata", true},
                 {"limit", limit}};
    if (!cursor.empty()) body["cursor"] = cursor;
    // A page of messages with their blocks is far larger than the other
    // answers: cut at the usual 64 KiB it would not parse, and every
    // look-up would end in posting again.
    absl::StatusOr<Json> answer =
        Call("conversations.history", body, kHistoryAnswerBytes);
    if (!answer.ok()) return answer.status();
    SlackHistoryPage page;
    auto messages = answer->find("messages");
    if (messages == answer->end() || !messages->is_array()) {
      return absl::FailedPreconditionError(
          "conversations.history: answer has no messages");
    }
    page.messages = *messages;
    auto more = answer->find("has_more");
    page.has_more = more != answer->end() && more->is_boolean() && *more;
    auto meta = answer->find("response_metadata");
    if (meta != answer->end() && meta->is_object()) {
      auto next = meta->find("next_cursor");
      if (next != meta->end() && next->is_string()) page.next_cursor = *next;
    }
    return page;
  }

  absl::Status OpenView(const std::string& trigger_id,
                        const Json& view) override {
    return Call("views.open", {{"trigger_id", trigger_id}, {"view", view}})
        .status();
  }

 private:
  absl::StatusOr<Json> Call(const std::string& method, const Json& body,
                            size_t max_answer_bytes = 64 * 1024) {
    HttpPostRequest request;
    request.max_response_bytes = max_answer_bytes;
    request.url = absl::StrCat(base_url_, "/", method);
    request.ca_file = ca_file_;
    request.timeout = timeout_;
    request.content_type = "application/json; charset=utf-8";
    request.headers = {{"Authorization", absl::StrCat("Bearer ", token_)}};
    request.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    request.allow_http = allow_http_;
    request.user_agent = "approval-chat";
    absl::StatusOr<HttpResponse> response = HttpPost(request);
    if (!response.ok()) {
      return absl::UnavailableError(
          absl::StrCat(method, ": ", response.status().message()));
    }
    if (response->status == 429 || response->status >= 500) {
      return absl::UnavailableError(
          absl::StrCat(method, ": HTTP ", response->status));
    }
    if (response->status != 200) {
      return absl::FailedPreconditionError(
          absl::StrCat(method, ": HTTP ", response->status));
    }
    Json answer = Json::parse(response->body, nullptr, false);
    if (!answer.is_object()) {
      return absl::FailedPreconditionError(
          absl::StrCat(method, ": answer is not a JSON object"));
    }
    auto ok = answer.find("ok");
    if (ok == answer.end() || !ok->is_boolean() || !ok->get<bool>()) {
      auto error = answer.find("error");
      std::string why = error != answer.end() && error->is_string()
                            ? error->get<std::string>().substr(0, 80)
                            : "no error given";
      if (why == "ratelimited") {
        return absl::UnavailableError(absl::StrCat(method, ": ratelimited"));
      }
      return absl::FailedPreconditionError(absl::StrCat(method, ": ", why));
    }
    return answer;
  }

  const std::string base_url_;
  const std::string token_;
  const std::string ca_file_;
  const absl::Duration timeout_;
  const bool allow_http_;
};

}  // namespace

std::unique_ptr<SlackApi> NewSlackWebApi(std::string base_url,
                                         std::string bot_token,
                                         std::string ca_file,
                                         absl::Duration timeout,
                                         bool allow_http) {
  return std::make_unique<SlackWebApi>(std::move(base_url),
                                       std::move(bot_token), std::move(ca_file),
                                       timeout, allow_http);
}

}  // namespace approval::chat
