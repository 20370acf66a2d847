#include "bots/chat_app.h"

#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "CivetServer.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "approval/v1/approval.grpc.pb.h"
#include "bots/slack.h"
#include "bots/teams.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "server/common/read_file.h"
#include "server/service/log.h"

namespace approval::chat {
namespace {

constexpr char kSlack[] = "slack";
constexpr char kTeams[] = "teams";

// Looking for a Slack message posted before a crash: from this long before
// the intent (clock skew between us and Slack), at most this many pages of
// this many messages (newest first), after which it is posted again.
constexpr absl::Duration kHistoryMargin = absl::Minutes(5);
constexpr int kHistoryPageSize = 100;
constexpr int kHistoryMaxPages = 20;

// A platform approval-chat posts to, and the name of its stream cursor
// ("broker" for Slack, as before Teams existed).
struct Platform {
  const char* name;
  std::string stream;
  bool is_slack;
};

// The one place where a gRPC status becomes an absl::Status.
absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

std::string StateName(v1::State s) { return v1::State_Name(s); }

void LogWarn(const std::string& event, const std::string& approval_id,
             const absl::Status& s) {
  LogRecord r;
  r.level = LogLevel::kWarn;
  r.event = event;
  r.approval_id = approval_id;
  r.code = std::string(absl::StatusCodeToString(s.code()));
  r.message = std::string(s.message());
  Log(r);
}

// Counters for the README's metrics; all no-ops without a registry.
class ChatMetrics final {
 public:
  explicit ChatMetrics(prometheus::Registry* registry) {
    if (registry == nullptr) return;
    posted_ = &prometheus::BuildCounter()
                   .Name("approval_chat_messages_posted_total")
                   .Help("Messages posted for new approvals")
                   .Register(*registry);
    updated_ = &prometheus::BuildCounter()
                    .Name("approval_chat_messages_updated_total")
                    .Help("Messages updated as reviews and outcomes arrive")
                    .Register(*registry);
    interactions_ = &prometheus::BuildCounter()
                         .Name("approval_chat_interactions_total")
                         .Help("Interactions received, by outcome")
                         .Register(*registry);
    signature_failures_ = &prometheus::BuildCounter()
                               .Name("approval_chat_signature_failures_total")
                               .Help(
                                   "Requests refused before their "
                                   "signature verified")
                               .Register(*registry);
    api_errors_ = &prometheus::BuildCounter()
                       .Name("approval_chat_api_errors_total")
                       .Help("Failed platform API calls, by method")
                       .Register(*registry);
    recoveries_ =
        &prometheus::BuildCounter()
             .Name("approval_chat_post_recoveries_total")
             .Help(
                 "Approvals found with a post intent but no recorded message "
                 "(a crash while posting), by what the history look-up did: "
                 "adopted, not_found (posted), lookup_failed (posted again)")
             .Register(*registry);
    lag_ = &prometheus::BuildGauge()
                .Name("approval_chat_stream_lag_seconds")
                .Help("Age of the last broker event applied when applied")
                .Register(*registry)
                .Add({});
    cursor_ = &prometheus::BuildGauge()
                   .Name("approval_chat_stream_cursor")
                   .Help("Cursor of the last broker event applied")
                   .Register(*registry)
                   .Add({});
  }
  void Posted(const char* platform) {
    if (posted_) posted_->Add({{"platform", platform}}).Increment();
  }
  void Updated(const char* platform) {
    if (updated_) updated_->Add({{"platform", platform}}).Increment();
  }
  void Interaction(const std::string& outcome, const char* platform = kSlack) {
    if (interactions_) {
      interactions_->Add({{"platform", platform}, {"outcome", outcome}})
          .Increment();
    }
  }
  void SignatureFailure(const char* platform = kSlack) {
    if (signature_failures_) {
      signature_failures_->Add({{"platform", platform}}).Increment();
    }
  }
  void ApiError(const std::string& method, const char* platform = kSlack) {
    if (api_errors_) {
      api_errors_->Add({{"platform", platform}, {"method", method}})
          .Increment();
    }
  }
  void Recovery(const std::string& outcome, const char* platform = kSlack) {
    if (recoveries_) {
      recoveries_->Add({{"platform", platform}, {"outcome", outcome}})
          .Increment();
    }
  }
  void Applied(uint64_t cursor, double lag_seconds) {
    if (cursor_) cursor_->Set(static_cast<double>(cursor));
    if (lag_) lag_->Set(lag_seconds);
  }

 private:
  prometheus::Family<prometheus::Counter>* posted_ = nullptr;
  prometheus::Family<prometheus::Counter>* updated_ = nullptr;
  prometheus::Family<prometheus::Counter>* interactions_ = nullptr;
  prometheus::Family<prometheus::Counter>* signature_failures_ = nullptr;
  prometheus::Family<prometheus::Counter>* api_errors_ = nullptr;
  prometheus::Family<prometheus::Counter>* recoveries_ = nullptr;
  prometheus::Gauge* lag_ = nullptr;
  prometheus::Gauge* cursor_ = nullptr;
};

void Reply(mg_connection* conn, int status, const std::string& text,
           const char* content_type = "text/plain; charset=utf-8") {
  const char* reason = status == 200   ? "OK"
                       : status == 400 ? "Bad Request"
                       : status == 401 ? "Unauthorized"
                       : status == 403 ? "Forbidden"
                       : status == 404 ? "Not Found"
                       : status == 413 ? "Payload Too Large"
                                       : "Service Unavailable";
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
            status, reason, content_type, text.size(), text.c_str());
}

}  // namespace

class ChatApp::Impl final : public CivetHandler {
 public:
  Impl(const ChatConfig& config, ChatDeps deps,
       std::shared_ptr<grpc::Channel> channel)
      : config_(config),
        deps_(std::move(deps)),
        verifier_(deps_.slack_signing_secret, config.slack.max_body_bytes,
                  config.slack.timestamp_tolerance),
        metrics_(deps_.registry.get()),
        stub_(v1::ApprovalBroker::NewStub(std::move(channel))) {
    if (config_.slack.enabled) platforms_.push_back({kSlack, "broker", true});
    if (config_.teams.enabled)
      platforms_.push_back({kTeams, "broker:teams", false});
  }

  ~Impl() override { Stop(); }

  absl::Status StartHttp() {
    try {
      server_ = std::make_unique<CivetServer>(std::vector<std::string>{
          "listening_ports", config_.listen, "num_threads", "4",
          "request_timeout_ms", "10000", "enable_keep_alive", "no"});
    } catch (const CivetException& e) {
      return absl::UnavailableError(
          absl::StrCat("listen ", config_.listen, ": ", e.what()));
    }
    if (config_.slack.enabled) {
      server_->addHandler("/slack/interactions", this);
    }
    if (config_.teams.enabled) server_->addHandler("/teams/messages", this);
    server_->addHandler("/healthz", this);
    return absl::OkStatus();
  }

  void StartFollower() {
    follower_ = std::thread([this] { Follow(); });
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stopping_ = true;
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    if (server_ != nullptr) server_->close();
    if (follower_.joinable()) follower_.join();
  }

  int http_port() const {
    std::vector<int> ports = server_->getListeningPorts();
    return ports.empty() ? 0 : ports[0];
  }

  bool AwaitStreaming(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&streaming_), timeout);
  }

  bool handleGet(CivetServer*, mg_connection* conn) override {
    bool streaming;
    {
      absl::MutexLock lock(&mu_);
      streaming = streaming_;
    }
    Reply(conn, streaming ? 200 : 503,
          streaming ? "ok\n" : "not following the broker\n");
    return true;
  }

  bool handlePost(CivetServer*, mg_connection* conn) override {
    const mg_request_info* info = mg_get_request_info(conn);
    const std::string path = info->local_uri;
    if (path == "/teams/messages" && config_.teams.enabled) {
      HandleTeams(conn, info);
      return true;
    }
    if (path != "/slack/interactions" || !config_.slack.enabled) {
      Reply(conn, 404, "unknown path\n");
      return true;
    }
    const size_t limit = config_.slack.max_body_bytes;
    if (info->content_length > static_cast<long long>(limit)) {
      metrics_.SignatureFailure();
      Reply(conn, 413, "body too large\n");
      return true;
    }
    std::string body;
    char buf[4096];
    int n;
    while ((n = mg_read(conn, buf, sizeof(buf))) > 0) {
      body.append(buf, static_cast<size_t>(n));
      if (body.size() > limit) break;
    }
    const char* ts = mg_get_header(conn, "X-Slack-Request-Timestamp");
    const char* sig = mg_get_header(conn, "X-Slack-Signature");
    absl::Status verified =
        verifier_.Verify(ts ? ts : "", sig ? sig : "", body, deps_.now());
    if (!verified.ok()) {
      metrics_.SignatureFailure();
      LogWarn("slack_request_refused", "", verified);
      Reply(conn,
            verified.code() == absl::StatusCode::kResourceExhausted ? 413 : 401,
            "refused\n");
      return true;
    }
    absl::StatusOr<SlackClick> click = ParseSlackInteraction(body);
    if (!click.ok()) {
      const bool ignored =
          click.status().code() == absl::StatusCode::kUnimplemented;
      metrics_.Interaction(ignored ? "ignored" : "invalid");
      if (!ignored) LogWarn("slack_interaction_invalid", "", click.status());
      Reply(conn, ignored ? 200 : 400, ignored ? "" : "invalid payload\n");
      return true;
    }
    if (click->team_id != config_.slack.team_id) {
      metrics_.Interaction("invalid");
      LogWarn(
          "slack_interaction_invalid", click->approval_id,
          absl::PermissionDeniedError("payload.team.id: another workspace"));
      Reply(conn, 403, "another workspace\n");
      return true;
    }
    if (click->kind == SlackClick::Kind::kButton &&
        click->verdict == v1::DENY) {
      // Deny asks why first; the dialog's submission decides.
      absl::Status opened = deps_.slack->OpenView(
          click->trigger_id, RenderDenyReasonModal(*click));
      metrics_.Interaction(opened.ok() ? "dialog_opened" : "refused");
      if (!opened.ok()) {
        metrics_.ApiError("views.open");
        LogWarn("slack_api_error", click->approval_id, opened);
        TellRefused(*click, absl::UnavailableError("views.open failed"));
      }
      Reply(conn, 200, "");
      return true;
    }
    absl::Status decided = Decide(*click);
    if (click->kind == SlackClick::Kind::kDenyReason) {
      metrics_.Interaction(decided.ok() ? "decided" : "refused");
      if (decided.ok()) {
        Reply(conn, 200, "");  // closes the dialog
      } else {
        LogWarn("slack_click_refused", click->approval_id, decided);
        // Slack shows the error under the reason field, in the dialog.
        const nlohmann::json errors = {
            {"response_action", "errors"},
            {"errors", {{kDenyReasonBlockId, RefusalText(decided)}}}};
        Reply(conn, 200, errors.dump(), "application/json; charset=utf-8");
      }
      return true;
    }
    if (decided.ok()) {
      metrics_.Interaction("decided");
    } else {
      metrics_.Interaction("refused");
      LogWarn("slack_click_refused", click->approval_id, decided);
      TellRefused(*click, decided);
    }
    Reply(conn, 200, "");
    return true;
  }

 private:
  // An ephemeral message to the person saying why their click did nothing.
  void TellRefused(const SlackClick& click, const absl::Status& why) {
    absl::Status told = deps_.slack->PostEphemeral(
        click.channel_id, click.user_id, RefusalText(why));
    if (!told.ok()) {
      metrics_.ApiError("chat.postEphemeral");
      LogWarn("slack_api_error", click.approval_id, told);
    }
  }

  // A call context with `token` (default: the broker token) as bearer.
  std::unique_ptr<grpc::ClientContext> Context(
      bool deadline, const std::string* token = nullptr) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (token == nullptr) token = &deps_.broker_token;
    if (!token->empty()) {
      ctx->AddMetadata("authorization", "Bearer " + *token);
    }
    if (deadline) {
      ctx->set_deadline(
          absl::ToChronoTime(absl::Now() + config_.broker.timeout));
    }
    return ctx;
  }

  // Decides `approval_id` as `platform_user`, through the relay `token`
  // authenticates; the approval as it now stands.
  absl::StatusOr<v1::Approval> DecideAs(const std::string& token,
                                        const std::string& platform_user,
                                        const std::string& approval_id,
                                        v1::Verdict verdict,
                                        const std::string& comment) {
    v1::DecideRequest req;
    req.set_approval_id(approval_id);
    req.set_verdict(verdict);
    req.set_comment(comment);
    req.set_platform_user(platform_user);
    v1::DecideResponse resp;
    grpc::Status s = stub_->Decide(Context(true, &token).get(), req, &resp);
    if (!s.ok()) return FromGrpc(s);
    return resp.approval();
  }

  absl::Status Decide(const SlackClick& click) {
    return DecideAs(deps_.broker_token,
                    absl::StrCat("slack:", click.team_id, "/", click.user_id),
                    click.approval_id, click.verdict, click.comment)
        .status();
  }

  void Follow() {
    for (;;) {
      absl::Status s = FollowOnce();
      absl::MutexLock lock(&mu_);
      streaming_ = false;
      if (stopping_) return;
      LogWarn("broker_stream_broken", "", s);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                           config_.reconnect_backoff);
      if (stopping_) return;
    }
  }

  absl::Status FollowOnce() {
    // Each platform's cursor; the stream resumes after the smallest stored
    // one, and a platform with none yet is backfilled.
    uint64_t after = 0;
    std::vector<const Platform*> fresh;
    for (const Platform& p : platforms_) {
      absl::StatusOr<uint64_t> c = deps_.state->Cursor(p.stream);
      if (!c.ok()) return c.status();
      // None stored yet, but this process already followed the live stream
      // from live_from_ (after its backfill): resume there, or an approval
      // decided while the stream was broken would never be updated.
      const uint64_t from = *c != 0 ? *c : live_from_;
      platform_cursor_[p.name] = from;
      if (from == 0) {
        fresh.push_back(&p);
      } else if (after == 0 || from < after) {
        after = from;
      }
    }
    const bool live = after == 0;
    std::unique_ptr<grpc::ClientContext> ctx = Context(false);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::CancelledError("stopping");
      ctx_ = ctx.get();
    }
    v1::StreamDecisionsRequest req;
    req.set_after_cursor(after);
    std::unique_ptr<grpc::ClientReader<v1::DecisionEvent>> reader =
        stub_->StreamDecisions(ctx.get(), req);
    reader->WaitForInitialMetadata();
    absl::Status applied;
    // Without a stored cursor the stream starts live, from now: what was
    // already pending is listed once the subscription is in place (no gap).
    if (!fresh.empty()) applied = Backfill(fresh);
    if (applied.ok()) {
      absl::MutexLock lock(&mu_);
      streaming_ = true;
    }
    v1::DecisionEvent event;
    if (!applied.ok()) ctx->TryCancel();
    while (applied.ok() && reader->Read(&event)) {
      // (A first event with cursor 1 cannot be resumed from: after_cursor 0
      // means live.)
      if (live && live_from_ == 0) live_from_ = event.cursor() - 1;
      applied = Apply(event);
      if (!applied.ok()) {
        ctx->TryCancel();
        break;
      }
    }
    grpc::Status finished = reader->Finish();
    {
      absl::MutexLock lock(&mu_);
      ctx_ = nullptr;
    }
    if (!applied.ok()) return applied;
    return finished.ok() ? absl::UnavailableError("the broker ended the stream")
                         : FromGrpc(finished);
  }

  // Applies one event to every platform that has not applied it yet; an
  // error other than a platform's refusal stops the stream, which resumes
  // from the stored cursors (the event is redone where it was not applied).
  absl::Status Apply(const v1::DecisionEvent& event) {
    for (const Platform& p : platforms_) {
      uint64_t& done = platform_cursor_[p.name];
      if (event.cursor() <= done) continue;
      if (absl::Status s = ApplyTo(p, event); !s.ok()) return s;
      done = event.cursor();
    }
    const absl::Time at = absl::FromUnixSeconds(event.event_time().seconds()) +
                          absl::Nanoseconds(event.event_time().nanos());
    metrics_.Applied(event.cursor(), absl::ToDoubleSeconds(deps_.now() - at));
    return absl::OkStatus();
  }

  absl::Status ApplyTo(const Platform& p, const v1::DecisionEvent& event) {
    const v1::Approval& a = event.approval();
    const uint64_t cursor = event.cursor();
    absl::StatusOr<std::optional<PostedMessage>> found =
        deps_.state->Find(p.name, a.id());
    if (!found.ok()) return found.status();
    if (!found->has_value()) return PostIfNew(p, event);
    if ((*found)->last_cursor >= cursor) {
      return deps_.state->SetCursor(p.stream, cursor);
    }
    absl::Status u = Update(p, **found, a);
    if (!u.ok()) {
      metrics_.ApiError(p.is_slack ? "chat.update" : "activities.update",
                        p.name);
      if (u.code() == absl::StatusCode::kUnavailable) return u;
      LogWarn(absl::StrCat(p.name, "_api_error"), a.id(), u);
    } else {
      metrics_.Updated(p.name);
    }
    return deps_.state->RecordApplied(p.stream, p.name, a.id(), cursor,
                                      StateName(a.state()));
  }

  // Where `a` goes on `p`: a Slack channel, or the Teams conversation; ""
  // when nowhere.
  std::string Target(const Platform& p, const v1::Approval& a) const {
    if (p.is_slack) return ChannelFor(a, config_.slack);
    return config_.teams.conversation_id;
  }

  absl::StatusOr<std::string> Post(const Platform& p, const std::string& to,
                                   const v1::Approval& a) {
    if (p.is_slack) {
      nlohmann::json message = RenderSlackMessage(a);
      message["metadata"] = SlackApprovalMetadata(a.id());
      return deps_.slack->PostMessage(to, message);
    }
    // Bot Framework documents no way to list a Teams channel's past
    // activities: a crash after this post and before RecordPost posts the
    // card again after the restart.
    return deps_.teams->PostActivity(config_.teams.service_url, to,
                                     TeamsCardActivity(RenderTeamsCard(a)));
  }

  absl::Status Update(const Platform& p, const PostedMessage& m,
                      const v1::Approval& a) {
    if (p.is_slack) {
      return deps_.slack->UpdateMessage(m.channel, m.message_ref,
                                        RenderSlackMessage(a));
    }
    return deps_.teams->UpdateActivity(config_.teams.service_url, m.channel,
                                       m.message_ref,
                                       TeamsCardActivity(RenderTeamsCard(a)));
  }

  // Posts, on each of `platforms`, every PENDING approval that has no
  // message there yet, oldest first.
  absl::Status Backfill(const std::vector<const Platform*>& platforms) {
    std::vector<v1::Approval> pending;
    v1::ListApprovalsRequest req;
    req.set_state(v1::PENDING);
    req.set_page_size(500);
    do {
      v1::ListApprovalsResponse resp;
      grpc::Status s = stub_->ListApprovals(Context(true).get(), req, &resp);
      if (!s.ok()) return FromGrpc(s);
      for (v1::Approval& a : *resp.mutable_approvals()) {
        pending.push_back(std::move(a));
      }
      req.set_page_token(resp.next_page_token());
    } while (!req.page_token().empty());
    for (const Platform* p : platforms) {
      for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
        absl::StatusOr<std::optional<PostedMessage>> found =
            deps_.state->Find(p->name, it->id());
        if (!found.ok()) return found.status();
        if (found->has_value()) continue;
        v1::DecisionEvent created;
        created.set_type(v1::EVENT_CREATED);
        *created.mutable_approval() = *it;
        if (absl::Status s = PostIfNew(*p, created); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  // Posts a message for an approval that has none, when the event creates
  // it and it needs reviewers; else only moves the cursor.
  absl::Status PostIfNew(const Platform& p, const v1::DecisionEvent& event) {
    const v1::Approval& a = event.approval();
    const std::string to = Target(p, a);
    if (event.type() != v1::EVENT_CREATED ||
        a.requirement().outcome() != v1::REQUIRE_APPROVAL || to.empty()) {
      return deps_.state->SetCursor(p.stream, event.cursor());
    }
    if (p.is_slack) {
      absl::StatusOr<std::optional<PostedMessage>> earlier =
          BeforeSlackPost(to, a);
      if (!earlier.ok()) return earlier.status();
      if (earlier->has_value()) {
        PostedMessage adopted = **earlier;
        adopted.last_cursor = event.cursor();
        return deps_.state->RecordPost(p.stream, p.name, a.id(), adopted,
                                       StateName(a.state()));
      }
    }
    absl::StatusOr<std::string> ref = Post(p, to, a);
    if (!ref.ok()) {
      metrics_.ApiError(p.is_slack ? "chat.postMessage" : "activities.post",
                        p.name);
      if (ref.status().code() == absl::StatusCode::kUnavailable) {
        return ref.status();
      }
      LogWarn(absl::StrCat(p.name, "_api_error"), a.id(), ref.status());
      return deps_.state->SetCursor(p.stream, event.cursor());
    }
    metrics_.Posted(p.name);
    return deps_.state->RecordPost(p.stream, p.name, a.id(),
                                   {to, *ref, event.cursor()},
                                   StateName(a.state()));
  }

  // Before posting `a` to `to` on Slack. The first time, commits the intent
  // to post and returns nullopt (post). When an intent is already stored, an
  // earlier attempt may have posted it and crashed (or lost the database)
  // before recording the ts: returns that message if our bot's history has
  // it, else nullopt. A failed look-up (no channels:history scope, an API
  // error, too many messages since) is logged and counted and returns
  // nullopt: posting again beats losing the approval. Errors: the state's,
  // and UNAVAILABLE when Slack could not answer (retry later).
  absl::StatusOr<std::optional<PostedMessage>> BeforeSlackPost(
      const std::string& to, const v1::Approval& a) {
    absl::StatusOr<std::optional<PostIntent>> intent =
        deps_.state->FindIntent(kSlack, a.id());
    if (!intent.ok()) return intent.status();
    if (!intent->has_value()) {
      absl::Status s =
          deps_.state->RecordIntent(kSlack, a.id(), to, deps_.now());
      if (!s.ok()) return s;
      return std::nullopt;
    }
    absl::StatusOr<std::optional<std::string>> ts =
        FindSlackPost(**intent, a.id());
    if (!ts.ok()) {
      if (ts.status().code() == absl::StatusCode::kUnavailable) {
        return ts.status();
      }
      metrics_.Recovery("lookup_failed");
      LogWarn("slack_post_lookup_failed_posting_again", a.id(), ts.status());
      return std::nullopt;
    }
    if (!ts->has_value()) {
      metrics_.Recovery("not_found");
      return std::nullopt;
    }
    metrics_.Recovery("adopted");
    return PostedMessage{(*intent)->channel, **ts, 0};
  }

  // The ts of our bot's message for `approval_id` in `intent`'s channel since
  // the intent, through at most kHistoryMaxPages pages; nullopt when there is
  // none. FAILED_PRECONDITION when more messages than that came since.
  absl::StatusOr<std::optional<std::string>> FindSlackPost(
      const PostIntent& intent, const std::string& approval_id) {
    if (slack_bot_id_.empty()) {
      absl::StatusOr<std::string> bot = deps_.slack->BotId();
      if (!bot.ok()) {
        metrics_.ApiError("auth.test");
        return bot.status();
      }
      slack_bot_id_ = *bot;
    }
    std::string cursor;
    for (int page = 0; page < kHistoryMaxPages; ++page) {
      absl::StatusOr<SlackHistoryPage> got = deps_.slack->History(
          intent.channel, intent.at - kHistoryMargin, cursor, kHistoryPageSize);
      if (!got.ok()) {
        metrics_.ApiError("conversations.history");
        return got.status();
      }
      std::optional<std::string> ts =
          FindApprovalMessage(got->messages, slack_bot_id_, approval_id);
      if (ts.has_value()) return ts;
      if (!got->has_more || got->next_cursor.empty()) return std::nullopt;
      cursor = got->next_cursor;
    }
    return absl::FailedPreconditionError(
        absl::StrCat("conversations.history: not among the ",
                     kHistoryMaxPages * kHistoryPageSize,
                     " newest messages since the intent"));
  }

  // ---------------------------------------------------------------- Teams

  // An activity Teams posts: size limit, token, then (for an Action.Execute
  // invoke of our card) the decision, answered with the card as it stands.
  void HandleTeams(mg_connection* conn, const mg_request_info* info) {
    const size_t limit = config_.teams.max_body_bytes;
    std::string body;
    bool too_large = info->content_length > static_cast<long long>(limit);
    if (!too_large) {
      char buf[4096];
      int n;
      while ((n = mg_read(conn, buf, sizeof(buf))) > 0) {
        body.append(buf, static_cast<size_t>(n));
        if (body.size() > limit) {
          too_large = true;
          break;
        }
      }
    }
    if (too_large) {
      metrics_.SignatureFailure(kTeams);
      LogWarn("teams_request_refused", "",
              absl::ResourceExhaustedError(
                  absl::StrCat("body over ", limit, " bytes")));
      Reply(conn, 413, "body too large\n");
      return;
    }
    const nlohmann::json activity =
        nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    const char* auth = mg_get_header(conn, "Authorization");
    absl::Status verified = deps_.teams_verifier->Verify(
        auth != nullptr ? auth : "",
        activity.is_discarded() ? nlohmann::json() : activity);
    if (!verified.ok()) {
      metrics_.SignatureFailure(kTeams);
      LogWarn("teams_request_refused", "", verified);
      Reply(conn, 401, "refused\n");
      return;
    }
    absl::StatusOr<TeamsInvoke> invoke =
        activity.is_discarded()
            ? absl::InvalidArgumentError("activity: not JSON")
            : ParseTeamsInvoke(activity);
    if (!invoke.ok()) {
      const bool ignored =
          invoke.status().code() == absl::StatusCode::kUnimplemented;
      metrics_.Interaction(ignored ? "ignored" : "invalid", kTeams);
      if (!ignored) LogWarn("teams_activity_invalid", "", invoke.status());
      Reply(conn, ignored ? 200 : 400, ignored ? "" : "invalid activity\n");
      return;
    }
    if (invoke->tenant_id != config_.teams.tenant_id) {
      metrics_.Interaction("invalid", kTeams);
      LogWarn("teams_activity_invalid", invoke->approval_id,
              absl::PermissionDeniedError("tenant: not the configured one"));
      Reply(conn, 403, "another tenant\n");
      return;
    }
    absl::StatusOr<v1::Approval> decided =
        invoke->verdict == v1::DENY && invoke->comment.empty()
            ? absl::FailedPreconditionError(
                  "type a reason in the card, then Deny")
            : DecideTeams(*invoke);
    nlohmann::json card;
    if (decided.ok()) {
      metrics_.Interaction("decided", kTeams);
      card = RenderTeamsCard(*decided);
    } else {
      metrics_.Interaction("refused", kTeams);
      LogWarn("teams_click_refused", invoke->approval_id, decided.status());
      const std::string why = TeamsRefusalText(decided.status());
      v1::GetApprovalRequest get;
      get.set_approval_id(invoke->approval_id);
      v1::Approval now;
      grpc::Status got = stub_->GetApproval(Context(true).get(), get, &now);
      card =
          got.ok()
              ? RenderTeamsCard(now, why)
              : nlohmann::json{
                    {"type", "AdaptiveCard"},
                    {"version", "1.4"},
                    {"body",
                     {{{"type", "TextBlock"}, {"text", why}, {"wrap", true}}}}};
    }
    Reply(conn, 200, TeamsInvokeResponse(card).dump(),
          "application/json; charset=utf-8");
  }

  absl::StatusOr<v1::Approval> DecideTeams(const TeamsInvoke& invoke) {
    return DecideAs(
        deps_.teams_relay_token.empty() ? deps_.broker_token
                                        : deps_.teams_relay_token,
        absl::StrCat("teams:", invoke.tenant_id, "/", invoke.aad_object_id),
        invoke.approval_id, invoke.verdict, invoke.comment);
  }

  const ChatConfig config_;
  ChatDeps deps_;
  SlackSignatureVerifier verifier_;
  ChatMetrics metrics_;
  std::unique_ptr<v1::ApprovalBroker::Stub> stub_;
  std::unique_ptr<CivetServer> server_;
  std::thread follower_;
  std::vector<Platform> platforms_;
  // Each platform's last applied cursor; the follower thread's only.
  std::map<std::string, uint64_t> platform_cursor_;
  // The cursor just before the first event of the live stream this process
  // followed (0: none yet); the follower thread's only.
  uint64_t live_from_ = 0;
  // auth.test's bot_id, asked once when first needed; the follower's only.
  std::string slack_bot_id_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool streaming_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
};

absl::StatusOr<std::unique_ptr<ChatApp>> ChatApp::Start(
    const ChatConfig& config, ChatDeps deps) {
  if (config.slack.enabled && deps.slack == nullptr) {
    return absl::InvalidArgumentError("slack: no Slack API client");
  }
  if (config.teams.enabled &&
      (deps.teams == nullptr || deps.teams_verifier == nullptr)) {
    return absl::InvalidArgumentError(
        "teams: no connector or activity verifier");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (!config.broker.ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    absl::StatusOr<std::string> ca = ReadFile(config.broker.ca_file);
    if (!ca.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("broker.ca_file: ", ca.status().message()));
    }
    ssl.pem_root_certs = *std::move(ca);
    if (!config.broker.cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadFile(config.broker.cert_file);
      absl::StatusOr<std::string> key = ReadFile(config.broker.key_file);
      if (!cert.ok() || !key.ok()) {
        return absl::InvalidArgumentError(
            "broker.cert_file/key_file: cannot be read");
      }
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
  }
  auto impl = std::make_unique<Impl>(
      config, std::move(deps),
      grpc::CreateChannel(config.broker.address, credentials));
  if (absl::Status s = impl->StartHttp(); !s.ok()) return s;
  impl->StartFollower();
  return std::unique_ptr<ChatApp>(new ChatApp(std::move(impl)));
}

ChatApp::ChatApp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChatApp::~ChatApp() { impl_->Stop(); }
int ChatApp::http_port() const { return impl_->http_port(); }
bool ChatApp::AwaitStreaming(absl::Duration timeout) {
  return impl_->AwaitStreaming(timeout);
}

}  // namespace approval::chat
