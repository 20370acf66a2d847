#include "bots/teams.h"

#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "bots/approval_text.h"
#include "server/common/http_post.h"

namespace approval::chat {
namespace {

using Json = nlohmann::json;

// ------------------------------------------------------------ verification

class OpenIdMetadataJwksSource final : public JwksSource {
 public:
  OpenIdMetadataJwksSource(std::string url, std::string ca_file,
                           absl::Duration timeout)
      : url_(std::move(url)),
        ca_file_(std::move(ca_file)),
        timeout_(timeout),
        metadata_(NewHttpsJwksSource(url_, ca_file_, timeout_)) {}

  absl::StatusOr<std::string> Fetch() override {
    absl::StatusOr<std::string> text = metadata_->Fetch();
    if (!text.ok()) return text.status();
    const Json doc = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
    auto uri = doc.is_object() ? doc.find("jwks_uri") : doc.end();
    if (!doc.is_object() || uri == doc.end() || !uri->is_string() ||
        !absl::StartsWith(uri->get<std::string>(), "https://")) {
      return absl::UnavailableError(
          absl::StrCat(Describe(), ": no https jwks_uri in the metadata"));
    }
    return NewHttpsJwksSource(uri->get<std::string>(), ca_file_, timeout_)
        ->Fetch();
  }

  std::string Describe() const override {
    return absl::StrCat("OpenID metadata ", url_);
  }

 private:
  const std::string url_;
  const std::string ca_file_;
  const absl::Duration timeout_;
  const std::unique_ptr<JwksSource> metadata_;
};

// ------------------------------------------------------------ rendering

// Teams renders TextBlock and FactSet text as a markdown subset: a
// backslash keeps a character literal, so text from the request can
// neither format nor link (a leading - or + would start a list).
std::string Plain(absl::string_view s, size_t max = 1000) {
  std::string out;
  bool first = true;
  for (char c : Shorten(s, max)) {
    if (absl::string_view("\\`*_[]()<>#~").find(c) != absl::string_view::npos ||
        (first && (c == '-' || c == '+'))) {
      out += '\\';
    }
    out += c;
    first = false;
  }
  return out;
}

// What the rule still needs, groups made literal.
std::string Needs(const v1::Requirement& r) {
  return chat::Needs(r, [](absl::string_view g) { return Plain(g); });
}

Json Text(const std::string& text, bool bold = false) {
  Json t = {{"type", "TextBlock"}, {"text", text}, {"wrap", true}};
  if (bold) t["weight"] = "Bolder";
  return t;
}

Json Fact(const std::string& title, const std::string& value) {
  return {{"title", title}, {"value", value}};
}

// Bot Framework's error body: {"error": {"code", "message"}}.
std::string ErrorCode(const std::string& body) {
  const Json doc = Json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const Json& e = doc["error"];
    if (e.contains("code") && e["code"].is_string()) {
      return e["code"].get<std::string>();
    }
  }
  return "";
}

std::string FormEscape(absl::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// ------------------------------------------------------------ connector

class TeamsConnectorApi final : public TeamsConnector {
 public:
  TeamsConnectorApi(TeamsConnectorOptions options,
                    std::function<absl::Time()> clock)
      : options_(std::move(options)), clock_(std::move(clock)) {}

  absl::StatusOr<std::string> PostActivity(const std::string& service_url,
                                           const std::string& conversation,
                                           const Json& activity) override {
    absl::StatusOr<Json> answer =
        Call("POST", "activities.post",
             absl::StrCat(Base(service_url), "/v3/conversations/",
                          FormEscape(conversation), "/activities"),
             activity);
    if (!answer.ok()) return answer.status();
    auto id = answer->find("id");
    if (id == answer->end() || !id->is_string() ||
        id->get<std::string>().empty()) {
      return absl::FailedPreconditionError("activities.post: answer has no id");
    }
    return id->get<std::string>();
  }

  absl::Status UpdateActivity(const std::string& service_url,
                              const std::string& conversation,
                              const std::string& activity_id,
                              const Json& activity) override {
    Json body = activity;
    body["id"] = activity_id;
    return Call("PUT", "activities.update",
                absl::StrCat(Base(service_url), "/v3/conversations/",
                             FormEscape(conversation), "/activities/",
                             FormEscape(activity_id)),
                body)
        .status();
  }

 private:
  static std::string Base(const std::string& service_url) {
    return absl::EndsWith(service_url, "/")
               ? service_url.substr(0, service_url.size() - 1)
               : service_url;
  }

  // The cached access token, or a new one from the token endpoint.
  absl::StatusOr<std::string> Token() {
    {
      absl::MutexLock lock(&mu_);
      if (!token_.empty() && clock_() < token_expiry_) return token_;
    }
    HttpPostRequest req;
    req.url = options_.token_url;
    req.ca_file = options_.ca_file;
    req.timeout = options_.timeout;
    req.allow_http = options_.allow_http;
    req.user_agent = "approval-chat";
    req.content_type = "application/x-www-form-urlencoded";
    req.body = absl::StrCat(
        "grant_type=client_credentials&client_id=", FormEscape(options_.app_id),
        "&client_secret=", FormEscape(options_.app_secret),
        "&scope=", FormEscape(options_.scope));
    absl::StatusOr<HttpResponse> r = HttpPost(req);
    if (!r.ok()) {
      return absl::UnavailableError(
          absl::StrCat("token: ", r.status().message()));
    }
    if (r->status == 429 || r->status >= 500) {
      return absl::UnavailableError(absl::StrCat("token: HTTP ", r->status));
    }
    const Json doc = Json::parse(r->body, nullptr, false);
    if (r->status != 200 || !doc.is_object() || !doc.contains("access_token") ||
        !doc["access_token"].is_string() || !doc.contains("expires_in") ||
        !doc["expires_in"].is_number()) {
      return absl::FailedPreconditionError(
          absl::StrCat("token: HTTP ", r->status, ", no access_token"));
    }
    absl::MutexLock lock(&mu_);
    token_ = doc["access_token"].get<std::string>();
    token_expiry_ = clock_() + absl::Seconds(doc["expires_in"].get<double>()) -
                    absl::Minutes(1);
    return token_;
  }

  absl::StatusOr<Json> Call(const std::string& method, const std::string& name,
                            const std::string& url, const Json& body) {
    absl::StatusOr<std::string> token = Token();
    if (!token.ok()) return token.status();
    HttpPostRequest req;
    req.method = method;
    req.url = url;
    req.ca_file = options_.ca_file;
    req.timeout = options_.timeout;
    req.allow_http = options_.allow_http;
    req.user_agent = "approval-chat";
    req.content_type = "application/json; charset=utf-8";
    req.headers = {{"Authorization", absl::StrCat("Bearer ", *token)}};
    req.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    absl::StatusOr<HttpResponse> r = HttpPost(req);
    if (!r.ok()) {
      return absl::UnavailableError(
          absl::StrCat(name, ": ", r.status().message()));
    }
    if (r->status == 401) {
      // The token may have been revoked early: fetch a new one next time.
      absl::MutexLock lock(&mu_);
      token_.clear();
    }
    if (r->status == 429 || r->status >= 500) {
      return absl::UnavailableError(absl::StrCat(name, ": HTTP ", r->status));
    }
    if (r->status < 200 || r->status > 299) {
      const std::string code = ErrorCode(r->body);
      return absl::FailedPreconditionError(absl::StrCat(
          name, ": HTTP ", r->status, code.empty() ? "" : ": ", code));
    }
    Json doc = Json::parse(r->body, nullptr, false);
    if (doc.is_discarded()) doc = Json::object();
    return doc;
  }

  const TeamsConnectorOptions options_;
  const std::function<absl::Time()> clock_;
  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time token_expiry_ ABSL_GUARDED_BY(mu_);
};

const Json* Find(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string Str(const Json& j, const char* key) {
  const Json* v = Find(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : "";
}

}  // namespace

std::unique_ptr<JwksSource> NewOpenIdMetadataJwksSource(
    std::string metadata_url, std::string ca_file, absl::Duration timeout) {
  return std::make_unique<OpenIdMetadataJwksSource>(
      std::move(metadata_url), std::move(ca_file), timeout);
}

absl::StatusOr<std::unique_ptr<TeamsActivityVerifier>>
TeamsActivityVerifier::Create(TeamsAuthOptions options,
                              std::unique_ptr<JwksSource> keys,
                              std::function<absl::Time()> clock) {
  if (options.app_id.empty()) {
    return absl::InvalidArgumentError("teams.app_id: required");
  }
  JwtVerifierOptions o;
  o.issuer = options.issuer;
  o.audience = options.app_id;
  o.allowed_algorithms = {JwsAlgorithm::kRs256};
  o.clock_skew = options.clock_skew;
  o.unknown_key_wait = options.unknown_key_wait;
  o.initial_load_required = false;
  absl::StatusOr<std::unique_ptr<JwtVerifier>> jwt =
      JwtVerifier::Create(std::move(o), std::move(keys), std::move(clock));
  if (!jwt.ok()) return jwt.status();
  return std::unique_ptr<TeamsActivityVerifier>(
      new TeamsActivityVerifier(*std::move(jwt)));
}

absl::Status TeamsActivityVerifier::Verify(
    absl::string_view authorization, const nlohmann::json& activity) const {
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWith(authorization, kBearer)) {
    return absl::UnauthenticatedError("Authorization: expected Bearer <JWT>");
  }
  absl::StatusOr<VerifiedJwt> jwt =
      jwt_->Verify(authorization.substr(kBearer.size()));
  if (!jwt.ok()) return jwt.status();
  auto claim = jwt->claims.find("serviceurl");
  if (claim != jwt->claims.end()) {
    if (!claim->is_string() ||
        claim->get<std::string>() != Str(activity, "serviceUrl")) {
      return absl::UnauthenticatedError(
          "serviceUrl: differs from the token's serviceurl claim");
    }
  }
  return absl::OkStatus();
}

namespace {

// Tenant and AAD object ids are GUIDs: kept to their alphabet, so that
// "teams:<tenant>/<object id>" names exactly one platform identity (no '/'
// or control character from the payload inside it).
bool SafeTeamsId(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '-') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<TeamsInvoke> ParseTeamsInvoke(const nlohmann::json& activity) {
  if (!activity.is_object()) {
    return absl::InvalidArgumentError("activity: expected a JSON object");
  }
  if (Str(activity, "type") != "invoke" ||
      Str(activity, "name") != "adaptiveCard/action") {
    return absl::UnimplementedError("activity: not an adaptiveCard/action");
  }
  TeamsInvoke out;
  const Json* from = Find(activity, "from");
  out.aad_object_id = from != nullptr ? Str(*from, "aadObjectId") : "";
  if (!SafeTeamsId(out.aad_object_id)) {
    return absl::InvalidArgumentError(
        "from.aadObjectId: required, letters, digits and '-' only");
  }
  const Json* conversation = Find(activity, "conversation");
  if (conversation != nullptr) out.tenant_id = Str(*conversation, "tenantId");
  const Json* channel_data = Find(activity, "channelData");
  const Json* tenant =
      channel_data != nullptr ? Find(*channel_data, "tenant") : nullptr;
  const std::string channel_tenant =
      tenant != nullptr ? Str(*tenant, "id") : "";
  if (out.tenant_id.empty()) out.tenant_id = channel_tenant;
  if (!SafeTeamsId(out.tenant_id) ||
      (!channel_tenant.empty() && channel_tenant != out.tenant_id)) {
    return absl::InvalidArgumentError(
        "conversation.tenantId: missing or differs from channelData");
  }
  const Json* value = Find(activity, "value");
  const Json* action = value != nullptr ? Find(*value, "action") : nullptr;
  if (action == nullptr || Str(*action, "type") != "Action.Execute") {
    return absl::InvalidArgumentError("value.action: not an Action.Execute");
  }
  const std::string verb = Str(*action, "verb");
  if (verb == kTeamsApproveVerb) {
    out.verdict = v1::APPROVE;
  } else if (verb == kTeamsDenyVerb) {
    out.verdict = v1::DENY;
  } else {
    return absl::InvalidArgumentError("value.action.verb: not ours");
  }
  const Json* data = Find(*action, "data");
  out.approval_id = data != nullptr ? Str(*data, "approval_id") : "";
  if (out.approval_id.empty() || out.approval_id.size() > 128) {
    return absl::InvalidArgumentError(
        "value.action.data.approval_id: required");
  }
  if (data != nullptr) {
    out.comment = Str(*data, kTeamsReasonInputId);
    if (out.comment.size() > 2000) {
      return absl::InvalidArgumentError(
          "value.action.data.reason: longer than 2000 bytes");
    }
  }
  return out;
}

nlohmann::json RenderTeamsCard(const v1::Approval& a,
                               const std::string& notice) {
  const bool pending = a.state() == v1::PENDING;
  Json body = Json::array();
  if (!notice.empty()) {
    Json n = Text(Plain(notice, 500), true);
    n["color"] = "Attention";
    body.push_back(n);
  }
  body.push_back(Text(
      absl::StrCat(pending ? "Approval needed: " : StateWord(a.state()) + ": ",
                   Plain(a.action(), 200), " on ", Plain(a.resource(), 500)),
      true));
  Json facts = Json::array();
  facts.push_back(Fact("Requested by", Plain(a.requester(), 200)));
  if (!a.on_behalf_of().empty()) {
    facts.push_back(Fact("On behalf of", Plain(a.on_behalf_of(), 200)));
  }
  facts.push_back(Fact("Rule", absl::StrCat(Plain(a.requirement().rule(), 200),
                                            ": ", Needs(a.requirement()))));
  facts.push_back(
      Fact("Expires",
           absl::FormatTime("%Y-%m-%d %H:%M UTC",
                            absl::FromUnixSeconds(a.expire_time().seconds()),
                            absl::UTCTimeZone())));
  if (!a.justification().empty()) {
    facts.push_back(Fact("Justification", Plain(a.justification())));
  }
  body.push_back({{"type", "FactSet"}, {"facts", facts}});
  body.push_back(Text("Parameters (masked preview)", true));
  Json preview = Text(a.parameters_preview_json().empty()
                          ? "{}"
                          : Plain(a.parameters_preview_json(), 2500));
  preview["fontType"] = "Monospace";
  body.push_back(preview);
  const std::string reviews =
      ReviewsLine(a, [](absl::string_view name) { return Plain(name, 100); });
  Json card = {
      {"type", "AdaptiveCard"},
      {"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
      {"version", "1.4"}};
  if (pending) {
    std::string progress = reviews.empty() ? "No reviews yet" : reviews;
    absl::StrAppend(&progress, " · ", a.approvals_missing(), " more needed");
    body.push_back(Text(progress));
    body.push_back({{"type", "Input.Text"},
                    {"id", kTeamsReasonInputId},
                    {"placeholder", "Reason (for Deny)"},
                    {"maxLength", 2000},
                    {"isMultiline", true}});
    // The broker's ids are ASCII; anything else must still serialize.
    const Json data = {{"approval_id", ValidUtf8(a.id())}};
    card["actions"] = {{{"type", "Action.Execute"},
                        {"title", "Approve"},
                        {"verb", kTeamsApproveVerb},
                        {"style", "positive"},
                        {"data", data}},
                       {{"type", "Action.Execute"},
                        {"title", "Deny"},
                        {"verb", kTeamsDenyVerb},
                        {"style", "destructive"},
                        {"data", data}}};
  } else {
    std::string outcome = StateWord(a.state());
    if (!a.decided_by().empty()) {
      absl::StrAppend(&outcome, " by ", Plain(a.decided_by(), 200));
    }
    if (!reviews.empty()) {
      absl::StrAppend(&outcome, " (", reviews, ")");
    }
    if (!a.decision_comment().empty()) {
      absl::StrAppend(&outcome, ": ", Plain(a.decision_comment(), 500));
    }
    body.push_back(Text(outcome, true));
  }
  card["body"] = body;
  return card;
}

nlohmann::json TeamsCardActivity(const nlohmann::json& card) {
  return {{"type", "message"},
          {"attachments",
           {{{"contentType", "application/vnd.microsoft.card.adaptive"},
             {"content", card}}}}};
}

nlohmann::json TeamsInvokeResponse(const nlohmann::json& card) {
  return {{"statusCode", 200},
          {"type", "application/vnd.microsoft.card.adaptive"},
          {"value", card}};
}

std::string TeamsRefusalText(const absl::Status& refusal) {
  return RefusalText(refusal, [](absl::string_view m) { return Plain(m); });
}

std::unique_ptr<TeamsConnector> NewTeamsConnectorApi(
    TeamsConnectorOptions options, std::function<absl::Time()> clock) {
  return std::make_unique<TeamsConnectorApi>(std::move(options),
                                             std::move(clock));
}

}  // namespace approval::chat
