#include "server/service/broker_service.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "server/auth/refusal.h"
#include "server/domain/refusal_reason.h"
#include "server/service/convert.h"
#include "server/service/decision_stream.h"
#include "server/service/log.h"
#include "server/store/error_detail.h"
#include "server/store/page_token.h"
#include "server/webhook/webhook_event.h"
#include "wire/canonical.h"

namespace approval {
namespace {

// Reviewers, admins and observers see every approval; an agent sees only
// its own.
bool SeesAll(const Principal& p) {
  return p.Has(Role::kReviewer) || p.Has(Role::kAdmin) ||
         p.Has(Role::kObserver);
}

std::string RolesOf(const Principal& p) {
  std::vector<std::string> names;
  for (Role r : p.roles) names.emplace_back(RoleName(r));
  return names.empty() ? "none" : absl::StrJoin(names, ", ");
}

absl::Status RequireRole(const Principal& p, Role a, Role b,
                         absl::string_view what) {
  if (p.Has(a) || p.Has(b)) return absl::OkStatus();
  return PermissionDenied(
      "missing_role",
      absl::StrCat("identity ", p.id, " (roles: ", RolesOf(p), ") may not ",
                   what, "; needs role ", std::string(RoleName(a)), " or ",
                   std::string(RoleName(b))));
}

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("approval ", id, " not found"));
}

// The access log line of one finished call. Only names and the status code:
// never the status message, the request or its metadata, which can carry
// parameters or credentials. `approval_id` is logged only when well-formed
// (a caller's garbage id stays out of the log).
void LogCall(absl::string_view method, absl::string_view caller,
             absl::string_view peer, absl::string_view approval_id,
             const absl::Status& s, std::optional<absl::Duration> latency) {
  LogRecord r;
  r.level = LogLevel::kInfo;
  r.event = "rpc";
  r.method = std::string(method);
  r.caller = std::string(caller);
  if (!approval_id.empty() && ValidateApprovalId(approval_id).ok()) {
    r.approval_id = std::string(approval_id);
  }
  r.code = absl::StatusCodeToString(s.code());
  if (latency) r.latency_ms = absl::ToDoubleMilliseconds(*latency);
  if (caller.empty()) r.fields.emplace_back("peer", std::string(peer));
  r.message = absl::StrCat(method, " ", r.code);
  Log(r);
}

// What the agent sent, before validation.
RequestInput RequestInputOf(const v1::RequestApprovalRequest& req) {
  RequestInput in;
  in.action = req.action();
  in.resource = req.resource();
  in.parameters_json = req.parameters_json();
  in.justification = req.justification();
  in.idempotency_key = req.idempotency_key();
  if (req.has_ttl()) {
    in.ttl = absl::Seconds(req.ttl().seconds()) +
             absl::Nanoseconds(req.ttl().nanos());
  }
  return in;
}

// The request metric's outcome label for a newly created approval.
absl::string_view OutcomeLabel(Outcome o) {
  switch (o) {
    case Outcome::kRequireApproval:
      return "created";
    case Outcome::kAutoApprove:
      return "auto_approved";
    case Outcome::kAutoDeny:
      return "auto_denied";
  }
  return "created";
}

}  // namespace

BrokerService::BrokerService(ApprovalStore& store, const Authenticator& auth,
                             EventHub& hub, Executor& executor,
                             BrokerMetrics& metrics, const PolicyHolder& policy,
                             const TokenIssuer& issuer, ServiceOptions options)
    : store_(store),
      auth_(auth),
      hub_(hub),
      executor_(executor),
      metrics_(metrics),
      policy_(policy),
      issuer_(issuer),
      options_(std::move(options)),
      catch_up_(store, executor) {
  InstallCheckedHandlers();
}

namespace {

// The position of `method` in the service, which is the index the
// generated code registered its handler under.
int MethodIndex(absl::string_view method) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::ApprovalBroker::service_full_name());
  const google::protobuf::MethodDescriptor* m =
      service == nullptr ? nullptr
                         : service->FindMethodByName(std::string(method));
  if (m == nullptr) {
    LogError(Event{"service_misbuilt"}, "BrokerService: no method ", method,
             " in ", v1::ApprovalBroker::service_full_name());
    std::abort();
  }
  return m->index();
}

}  // namespace

template <typename Req, typename Resp>
void BrokerService::CheckUnary(
    absl::string_view method,
    grpc::ServerUnaryReactor* (BrokerService::*handler)(
        grpc::CallbackServerContext*, const Req*, Resp*)) {
  MarkMethodCallback(
      MethodIndex(method),
      new grpc::internal::CallbackUnaryHandler<CheckedRequest<Req>, Resp>(
          [this, method, handler](grpc::CallbackServerContext* ctx,
                                  const CheckedRequest<Req>* req, Resp* resp) {
            if (!req->status.ok())
              return RefuseRequest(ctx, method, req->status);
            return (this->*handler)(ctx, &req->message, resp);
          }));
}

void BrokerService::InstallCheckedHandlers() {
  CheckUnary("RequestApproval", &BrokerService::RequestApproval);
  CheckUnary("Decide", &BrokerService::Decide);
  CheckUnary("GetApproval", &BrokerService::GetApproval);
  CheckUnary("ListApprovals", &BrokerService::ListApprovals);
  CheckUnary("CancelApproval", &BrokerService::CancelApproval);
  CheckUnary("VerifyAuditLog", &BrokerService::VerifyAuditLog);
  CheckUnary("ListAuditEvents", &BrokerService::ListAuditEvents);
  CheckUnary("GetSigningKey", &BrokerService::GetSigningKey);
  CheckUnary("ListWebhookDeliveries", &BrokerService::ListWebhookDeliveries);
  using StreamRequest = CheckedRequest<v1::StreamDecisionsRequest>;
  MarkMethodCallback(
      MethodIndex("StreamDecisions"),
      new grpc::internal::CallbackServerStreamingHandler<StreamRequest,
                                                         v1::DecisionEvent>(
          [this](grpc::CallbackServerContext* ctx, const StreamRequest* req)
              -> grpc::ServerWriteReactor<v1::DecisionEvent>* {
            if (!req->status.ok()) {
              LogCall("StreamDecisions", "", ctx->peer(), "", req->status,
                      std::nullopt);
              return new RefusedStream(ToGrpcStatus(req->status));
            }
            return StreamDecisions(ctx, &req->message);
          }));
  // A method added to the proto must be added here too, or it would run
  // unchecked.
  constexpr int kInstalled = 10;
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::ApprovalBroker::service_full_name());
  if (service == nullptr || service->method_count() != kInstalled) {
    LogError(Event{"service_misbuilt"},
             "BrokerService: ", v1::ApprovalBroker::service_full_name(),
             " has methods without a checked handler");
    std::abort();
  }
}

grpc::ServerUnaryReactor* BrokerService::RefuseRequest(
    grpc::CallbackServerContext* ctx, absl::string_view method,
    const absl::Status& s) {
  if (method == "RequestApproval") {
    metrics_.RecordRequest("invalid", CodeLabel(s.code()));
  }
  metrics_.ObserveRpc(method, CodeLabel(s.code()), 0);
  LogCall(method, "", ctx->peer(), "", s, absl::ZeroDuration());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

void BrokerService::RecordIfRefused(absl::string_view method,
                                    absl::string_view caller,
                                    absl::string_view who,
                                    const absl::Status& s) {
  if (s.code() != absl::StatusCode::kUnauthenticated &&
      s.code() != absl::StatusCode::kPermissionDenied) {
    return;
  }
  std::string reason = RefusalReason(s);
  if (reason.empty()) reason = "unspecified";
  const std::string detail = RefusalDetail(s);
  LogRecord r;
  r.level = LogLevel::kWarn;
  r.event = "call_refused";
  r.method = std::string(method);
  r.caller = std::string(caller);
  r.code = absl::StatusCodeToString(s.code());
  r.fields.emplace_back("reason", reason);
  r.fields.emplace_back(caller.empty() ? "peer" : "identity", std::string(who));
  r.message = absl::StrCat(method, ": refused ", who, " (", reason,
                           "): ", s.message(), detail.empty() ? "" : " [",
                           detail, detail.empty() ? "" : "]");
  Log(r);
  metrics_.RecordRefusal(CodeLabel(s.code()), reason);
}

grpc::ServerUnaryReactor* BrokerService::Unary(
    grpc::CallbackServerContext* ctx, absl::string_view method, Handler handler,
    std::function<std::string()> approval_id) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Time start = absl::Now();
  // The one place every authenticated unary call ends.
  auto finish = [this, ctx, reactor, method, start,
                 approval_id = std::move(approval_id)](
                    const absl::Status& s, absl::string_view caller) {
    if (s.code() == absl::StatusCode::kUnavailable ||
        s.code() == absl::StatusCode::kInternal) {
      metrics_.RecordDatabaseError();
      // The client gets the message only; the database's own words, which
      // can name its host and port or SQL, are for the operator.
      LogRecord r;
      r.level = LogLevel::kWarn;
      r.event = "database_error";
      r.method = std::string(method);
      r.code = absl::StatusCodeToString(s.code());
      r.message = absl::StrCat(method, ": ", MessageWithDetail(s));
      Log(r);
    }
    const absl::Duration latency = absl::Now() - start;
    metrics_.ObserveRpc(method, CodeLabel(s.code()),
                        absl::ToDoubleSeconds(latency));
    LogCall(method, caller, ctx->peer(),
            approval_id ? approval_id() : std::string(), s, latency);
    reactor->Finish(ToGrpcStatus(s));
  };
  auto run = [this, ctx, method, finish = std::move(finish),
              handler = std::move(handler)](
                 const absl::StatusOr<Principal>& principal) {
    if (!principal.ok()) {
      RecordIfRefused(method, "", ctx->peer(), principal.status());
      finish(principal.status(), "");
      return;
    }
    absl::Status s = handler(*principal);
    RecordIfRefused(method, principal->id, principal->identity, s);
    finish(s, principal->id);
  };
  // Authentication runs on the executor, so gRPC's threads never wait. It
  // never waits for the IdP either: a token whose key is being fetched is
  // answered later, from the key set's thread, and its call comes back to
  // the executor then, holding no thread meanwhile.
  executor_.Submit([this, ctx, run = std::move(run)] {
    std::optional<absl::StatusOr<Principal>> principal =
        auth_.AuthenticateOrDefer(
            *ctx, [this, run](absl::StatusOr<Principal> later) {
              executor_.Submit([run, later = std::move(later)] { run(later); });
            });
    if (principal.has_value()) run(*principal);
  });
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::RequestApproval(
    grpc::CallbackServerContext* ctx, const v1::RequestApprovalRequest* req,
    v1::RequestApprovalResponse* resp) {
  return Unary(
      ctx, "RequestApproval",
      [this, req, resp](const Principal& p) {
        return DoRequestApproval(p, *req, resp);
      },
      [resp] { return resp->approval().id(); });
}

grpc::ServerUnaryReactor* BrokerService::Decide(
    grpc::CallbackServerContext* ctx, const v1::DecideRequest* req,
    v1::DecideResponse* resp) {
  return Unary(
      ctx, "Decide",
      [this, req, resp](const Principal& p) { return DoDecide(p, *req, resp); },
      [req] { return req->approval_id(); });
}

grpc::ServerUnaryReactor* BrokerService::GetApproval(
    grpc::CallbackServerContext* ctx, const v1::GetApprovalRequest* req,
    v1::Approval* resp) {
  return Unary(
      ctx, "GetApproval",
      [this, req, resp](const Principal& p) { return DoGet(p, *req, resp); },
      [req] { return req->approval_id(); });
}

grpc::ServerUnaryReactor* BrokerService::ListApprovals(
    grpc::CallbackServerContext* ctx, const v1::ListApprovalsRequest* req,
    v1::ListApprovalsResponse* resp) {
  return Unary(ctx, "ListApprovals", [this, req, resp](const Principal& p) {
    return DoList(p, *req, resp);
  });
}

grpc::ServerUnaryReactor* BrokerService::CancelApproval(
    grpc::CallbackServerContext* ctx, const v1::CancelApprovalRequest* req,
    v1::Approval* resp) {
  return Unary(
      ctx, "CancelApproval",
      [this, req, resp](const Principal& p) { return DoCancel(p, *req, resp); },
      [req] { return req->approval_id(); });
}

grpc::ServerUnaryReactor* BrokerService::VerifyAuditLog(
    grpc::CallbackServerContext* ctx, const v1::VerifyAuditLogRequest* req,
    v1::VerifyAuditLogResponse* resp) {
  return Unary(ctx, "VerifyAuditLog", [this, req, resp](const Principal& p) {
    return DoVerifyAuditLog(p, *req, resp);
  });
}

grpc::ServerUnaryReactor* BrokerService::ListAuditEvents(
    grpc::CallbackServerContext* ctx, const v1::ListAuditEventsRequest* req,
    v1::ListAuditEventsResponse* resp) {
  return Unary(
      ctx, "ListAuditEvents",
      [this, req, resp](const Principal& p) {
        return DoListAuditEvents(p, *req, resp);
      },
      [req] { return req->approval_id(); });
}

grpc::ServerUnaryReactor* BrokerService::GetSigningKey(
    grpc::CallbackServerContext* ctx, const v1::GetSigningKeyRequest*,
    v1::SigningKey* resp) {
  return Unary(ctx, "GetSigningKey", [this, resp](const Principal&) {
    const std::shared_ptr<const IssuerKeys> keys = issuer_.current();
    resp->set_algorithm("Ed25519");
    resp->set_key_id(keys->signer->key_id());
    resp->set_public_key_pem(keys->signer->public_key_pem());
    resp->set_jwks_json(keys->JwksAt(absl::Now()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* BrokerService::ListWebhookDeliveries(
    grpc::CallbackServerContext* ctx,
    const v1::ListWebhookDeliveriesRequest* req,
    v1::ListWebhookDeliveriesResponse* resp) {
  return Unary(ctx, "ListWebhookDeliveries",
               [this, req, resp](const Principal& p) {
                 return DoListWebhookDeliveries(p, *req, resp);
               });
}

namespace {

google::protobuf::Timestamp TimestampOf(absl::Time t) {
  google::protobuf::Timestamp out;
  const int64_t micros = absl::ToUnixMicros(t);
  out.set_seconds(micros / 1000000);
  out.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return out;
}

}  // namespace

absl::Status BrokerService::DoListWebhookDeliveries(
    const Principal& p, const v1::ListWebhookDeliveriesRequest& req,
    v1::ListWebhookDeliveriesResponse* resp) {
  if (!p.Has(Role::kAdmin)) {
    return PermissionDenied(
        "missing_role",
        absl::StrCat("identity ", p.id, " (roles: ", RolesOf(p),
                     ") may not list webhook deliveries; needs role admin"));
  }
  DeliveryListQuery q;
  q.endpoint = req.endpoint();
  if (!req.status().empty()) {
    for (DeliveryStatus s :
         {DeliveryStatus::kPending, DeliveryStatus::kDelivered,
          DeliveryStatus::kFailed}) {
      if (req.status() == DeliveryStatusName(s)) q.status = s;
    }
    if (!q.status.has_value()) {
      return absl::InvalidArgumentError(
          "status: must be \"pending\", \"delivered\" or \"failed\"");
    }
  }
  if (req.page_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", req.page_size(), " is negative"));
  }
  q.page_size = req.page_size() == 0 ? 50 : std::min(req.page_size(), 500);
  q.page_token = req.page_token();
  if (options_.webhook_deliveries == nullptr) {
    return absl::FailedPreconditionError(
        "no webhook endpoints are configured on this broker");
  }
  absl::StatusOr<DeliveryPage> page = options_.webhook_deliveries->List(q);
  if (!page.ok()) return page.status();
  for (const DeliveryRecord& d : page->deliveries) {
    v1::WebhookDelivery* out = resp->add_deliveries();
    out->set_endpoint(d.endpoint);
    out->set_webhook_id(WebhookId(d.seq, d.endpoint));
    out->set_event_seq(static_cast<uint64_t>(d.seq));
    out->set_event_type(d.event_type);
    out->set_approval_id(d.approval_id);
    out->set_status(std::string(DeliveryStatusName(d.status)));
    out->set_attempts(d.attempts);
    *out->mutable_enqueue_time() = TimestampOf(d.enqueued_at);
    *out->mutable_next_attempt_time() = TimestampOf(d.next_attempt_at);
    if (d.delivered_at) {
      *out->mutable_deliver_time() = TimestampOf(*d.delivered_at);
    }
    out->set_last_error(d.last_error);
    out->set_last_http_status(d.last_http_status);
  }
  resp->set_next_page_token(page->next_page_token);
  return absl::OkStatus();
}

absl::Status BrokerService::DoListAuditEvents(
    const Principal& p, const v1::ListAuditEventsRequest& req,
    v1::ListAuditEventsResponse* resp) {
  if (!p.Has(Role::kAdmin)) {
    return PermissionDenied(
        "missing_role",
        absl::StrCat("identity ", p.id, " (roles: ", RolesOf(p),
                     ") may not read the audit log; needs role admin"));
  }
  AuditQuery q;
  if (!req.approval_id().empty()) {
    if (absl::Status s = ValidateApprovalId(req.approval_id()); !s.ok()) {
      return s;
    }
    q.approval_id = req.approval_id();
  }
  q.actor = req.actor();
  if (req.has_start_time()) q.from = FromProto(req.start_time());
  if (req.has_end_time()) q.until = FromProto(req.end_time());
  if (q.from && q.until && *q.until <= *q.from) {
    return absl::InvalidArgumentError("end_time: must be after start_time");
  }
  if (req.page_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", req.page_size(), " is negative"));
  }
  q.limit = req.page_size() == 0 ? 500 : std::min(req.page_size(), 5000);
  if (!req.page_token().empty()) {
    absl::StatusOr<int64_t> after = ParseAuditPageToken(req.page_token());
    if (!after.ok()) return after.status();
    q.after_seq = *after;
  }
  // One more than asked tells whether another page follows.
  ++q.limit;
  absl::StatusOr<std::vector<AuditEvent>> events = store_.QueryAudit(q);
  if (!events.ok()) return events.status();
  const bool more = static_cast<int>(events->size()) == q.limit;
  if (more) events->pop_back();
  for (const AuditEvent& e : *events) ToProto(e, resp->add_events());
  if (more) resp->set_next_page_token(AuditPageToken(events->back().seq));
  return absl::OkStatus();
}

absl::Status BrokerService::DoVerifyAuditLog(
    const Principal& p, const v1::VerifyAuditLogRequest& req,
    v1::VerifyAuditLogResponse* resp) {
  if (!p.Has(Role::kAdmin)) {
    return PermissionDenied(
        "missing_role",
        absl::StrCat("identity ", p.id, " (roles: ", RolesOf(p),
                     ") may not verify the audit log; needs role admin"));
  }
  AuditVerifyOptions options;
  if (req.expected_head_seq() != 0 || !req.expected_head_hash().empty()) {
    absl::StatusOr<AuditHead> head =
        ParseAuditHead(req.expected_head_seq(), req.expected_head_hash());
    if (!head.ok()) return head.status();
    options.expected_head = *std::move(head);
  }
  absl::StatusOr<AuditReport> report =
      approval::VerifyAuditLog(store_, issuer_.current()->keys, options);
  if (!report.ok()) return report.status();
  resp->set_verified(report->ok());
  resp->set_events_verified(report->events_verified);
  resp->set_unsigned_events(report->unsigned_events);
  resp->set_approvals_checked(report->approvals_checked);
  resp->set_head_seq(static_cast<uint64_t>(report->head.seq));
  resp->set_head_hash(HexEncode(report->head.hash));
  resp->set_head_key_id(report->head_key_id);
  resp->set_head_signature(HexEncode(report->head_signature));
  // Problems are the answer, not a failure of the call.
  for (const std::string& problem : report->problems) {
    resp->add_problems(problem);
  }
  if (!report->ok()) {
    resp->set_problem(report->problems.front());
    LogError(Event{"audit_verify_failed"},
             "audit log verification failed: ", report->problems.size(),
             " problems; the first: ", report->problems.front());
  }
  return absl::OkStatus();
}

absl::Status BrokerService::DoRequestApproval(
    const Principal& p, const v1::RequestApprovalRequest& req,
    v1::RequestApprovalResponse* resp) {
  if (absl::Status s =
          RequireRole(p, Role::kAgent, Role::kAdmin, "request approvals");
      !s.ok()) {
    return s;
  }
  if (p.IsRelay() && !p.Has(Role::kAgent)) {
    return PermissionDenied(
        "relay_not_agent",
        absl::StrCat("relay ", p.id,
                     " may not request approvals without the agent role"));
  }
  const RequestInput in = RequestInputOf(req);
  // The canonical principals: the agent that asks, and the human it acts
  // for, who may not decide this approval either.
  absl::StatusOr<ValidRequest> valid =
      ValidateRequest(in, p.id, options_.limits, p.on_behalf_of);
  if (!valid.ok()) {
    // No rule was consulted; the request's own text stays out of the labels.
    metrics_.RecordRequest(kInvalidRequestRule,
                           CodeLabel(valid.status().code()));
    return valid.status();
  }
  // From here on only the masked request travels: the raw parameters end
  // with this function. Metrics name the operator's rule, never the
  // agent's action.
  const std::shared_ptr<const ActivePolicy> policy = policy_.Current();
  absl::StatusOr<NewApproval> masked =
      ApplyPolicy(*valid, *policy, options_.limits);
  if (!masked.ok()) {
    const PolicyRule* rule =
        policy->policy.Match(valid->action, valid->resource, valid->requester);
    metrics_.RecordRequest(
        rule != nullptr ? absl::string_view(rule->name) : kNoRuleMatched,
        CodeLabel(masked.status().code()));
    return masked.status();
  }
  absl::StatusOr<CreateResult> created = store_.Create(*masked);
  if (!created.ok()) {
    metrics_.RecordRequest(masked->requirement.rule,
                           CodeLabel(created.status().code()));
    return created.status();
  }
  const absl::string_view outcome =
      created->created ? OutcomeLabel(masked->requirement.outcome)
                       : "idempotent_replay";
  // A replay answers with the stored approval: the rule it met then.
  metrics_.RecordRequest(created->approval.requirement.rule, outcome);
  resp->set_created(created->created);
  return ToProto(created->approval, &issuer_, resp->mutable_approval());
}

absl::StatusOr<Principal> BrokerService::ReviewerOfRecord(
    const Principal& p, const v1::DecideRequest& req) const {
  if (!p.IsRelay()) {
    if (!req.platform_user().empty()) {
      return PermissionDenied(
          "platform_user_not_relay",
          absl::StrCat("platform_user: only a configured relay may decide "
                       "for a platform user; identity ",
                       p.id, " is no relay"));
    }
    return p;
  }
  // A relay never reviews as itself, whatever its own roles.
  if (req.platform_user().empty()) {
    return PermissionDenied(
        "relay_without_platform_user",
        absl::StrCat("platform_user: relay ", p.id,
                     " must name the human it decides for; a relay never "
                     "reviews as itself"));
  }
  if (!p.on_behalf_of.empty()) {
    return PermissionDenied(
        "relay_on_behalf_of",
        absl::StrCat("relay ", p.id, " acts for ", p.on_behalf_of,
                     " and so may not decide"));
  }
  absl::StatusOr<Principal> human = auth_.RelayedHuman(p, req.platform_user());
  if (!human.ok()) return human.status();
  if (!human->Has(Role::kReviewer) && !human->Has(Role::kAdmin)) {
    return PermissionDenied(
        "relay_user_not_reviewer",
        absl::StrCat("this account's owner (", human->id,
                     ") is not a reviewer and may not decide approvals"));
  }
  return human;
}

absl::Status BrokerService::DoDecide(const Principal& caller,
                                     const v1::DecideRequest& req,
                                     v1::DecideResponse* resp) {
  // Checked like every field (request_check.h has refused NUL bytes,
  // control characters and invalid UTF-8 already).
  if (req.platform_user().size() > kMaxPlatformIdentityBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("platform_user: ", req.platform_user().size(),
                     " bytes, limit is ", kMaxPlatformIdentityBytes));
  }
  if (!req.platform_user().empty() &&
      !IsPlatformIdentity(req.platform_user())) {
    return absl::InvalidArgumentError(
        "platform_user: not a platform identity "
        "(<platform>:<namespace>/<user>, e.g. slack:T0123/U0456)");
  }
  // Through a relay, the linked human is the reviewer of record: every
  // rule below applies to that human, never to the relay.
  absl::StatusOr<Principal> reviewer = ReviewerOfRecord(caller, req);
  if (!reviewer.ok()) return reviewer.status();
  const Principal& p = *reviewer;
  if (absl::Status s =
          RequireRole(p, Role::kReviewer, Role::kAdmin, "decide approvals");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateApprovalId(req.approval_id()); !s.ok()) return s;
  if (req.verdict() != v1::APPROVE && req.verdict() != v1::DENY) {
    return absl::InvalidArgumentError("verdict: must be APPROVE or DENY");
  }
  if (absl::Status s = ValidateComment(req.comment(), options_.limits);
      !s.ok()) {
    return s;
  }
  DecideInput in;
  in.approval_id = req.approval_id();
  in.actor = p.id;
  in.verdict =
      req.verdict() == v1::APPROVE ? Verdict::kApprove : Verdict::kDeny;
  in.comment = req.comment();
  // Membership as the policy says now: someone removed from a group can no
  // longer review, even requests made before. Likewise relays_allowed.
  const std::shared_ptr<const ActivePolicy> policy = policy_.Current();
  in.actor_groups = policy->policy.GroupsOf(p.id);
  if (caller.IsRelay()) {
    in.relay = caller.identity;
    in.platform_user = req.platform_user();
    in.rules_refusing_relays = policy->policy.RulesRefusingRelays();
  }
  absl::StatusOr<ApprovalEvent> event = store_.Decide(in);
  if (!event.ok()) {
    // Refusals (self-approval, the human behind the requester, outside the
    // rule's groups, a second review) were audited by the store; Unary logs
    // and counts PERMISSION_DENIED by reason.
    const std::string reason = RefusalReason(event.status());
    if (reason == "self_approval" || reason == "on_behalf_of_self_approval") {
      metrics_.RecordSelfApprovalRefused();
    }
    return event.status();
  }
  metrics_.RecordDecision(VerdictName(in.verdict));
  const Approval& a = event->approval;
  if (IsTerminal(a.state) && a.decided_at) {
    metrics_.ObserveTimeToDecision(
        StateName(a.state),
        absl::ToDoubleSeconds(*a.decided_at - a.created_at));
  }
  return ToProto(a, &issuer_, resp->mutable_approval());
}

absl::Status BrokerService::DoGet(const Principal& p,
                                  const v1::GetApprovalRequest& req,
                                  v1::Approval* resp) {
  if (absl::Status s = ValidateApprovalId(req.approval_id()); !s.ok()) return s;
  absl::StatusOr<Approval> a = store_.Get(req.approval_id());
  if (!a.ok()) return a.status();
  // Another requester's approval looks exactly like an unknown one.
  if (!SeesAll(p) && a->requester != p.id) return NotFound(req.approval_id());
  return ToProto(*a, &issuer_, resp);
}

absl::Status BrokerService::DoList(const Principal& p,
                                   const v1::ListApprovalsRequest& req,
                                   v1::ListApprovalsResponse* resp) {
  ListQuery q;
  if (req.state() != v1::STATE_UNSPECIFIED) {
    q.state = FromProto(req.state());
    if (!q.state) {
      return absl::InvalidArgumentError(absl::StrCat(
          "state: ", static_cast<int>(req.state()), " is not a known state"));
    }
  }
  if (req.page_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", req.page_size(), " is negative"));
  }
  q.page_size = req.page_size() == 0 ? 50 : std::min(req.page_size(), 500);
  if (!req.page_token().empty()) {
    // Checked here too, so that a forged token is refused the same way
    // whatever the store.
    if (absl::Status s = ParseApprovalPageToken(req.page_token()).status();
        !s.ok()) {
      return s;
    }
  }
  q.page_token = req.page_token();
  if (!SeesAll(p)) q.requester = p.id;
  absl::StatusOr<ApprovalPage> page = store_.List(q);
  if (!page.ok()) return page.status();
  for (const Approval& a : page->approvals) {
    if (absl::Status s = ToProto(a, &issuer_, resp->add_approvals()); !s.ok()) {
      return s;
    }
  }
  resp->set_next_page_token(page->next_page_token);
  return absl::OkStatus();
}

absl::Status BrokerService::DoCancel(const Principal& p,
                                     const v1::CancelApprovalRequest& req,
                                     v1::Approval* resp) {
  if (absl::Status s = ValidateApprovalId(req.approval_id()); !s.ok()) return s;
  if (absl::Status s = ValidateComment(req.reason(), options_.limits, "reason");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<ApprovalEvent> event =
      store_.Cancel(req.approval_id(), p.id, req.reason());
  if (!event.ok()) return event.status();
  const Approval& a = event->approval;
  if (a.decided_at) {
    metrics_.ObserveTimeToDecision(
        "cancelled", absl::ToDoubleSeconds(*a.decided_at - a.created_at));
  }
  return ToProto(a, &issuer_, resp);
}

grpc::ServerWriteReactor<v1::DecisionEvent>* BrokerService::StreamDecisions(
    grpc::CallbackServerContext* ctx, const v1::StreamDecisionsRequest* req) {
  // Arguments are checked here, but answered only after authentication: an
  // unauthenticated caller learns nothing from them.
  absl::Status arguments = absl::OkStatus();
  DecisionStream::Params params;
  if (req->approval_ids_size() > options_.stream_max_ids) {
    arguments = absl::InvalidArgumentError(
        absl::StrCat("approval_ids: ", req->approval_ids_size(),
                     " ids, limit is ", options_.stream_max_ids));
  }
  for (const std::string& id : req->approval_ids()) {
    if (!arguments.ok()) break;
    arguments = ValidateApprovalId(id);
    params.filter.approval_ids.push_back(id);
  }
  if (arguments.ok() &&
      req->after_cursor() >
          static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    arguments = absl::InvalidArgumentError("after_cursor: out of range");
  }
  params.after_cursor = static_cast<int64_t>(std::min<uint64_t>(
      req->after_cursor(), std::numeric_limits<int64_t>::max()));
  params.include_progress = req->include_progress();
  params.max_backlog = options_.stream_max_backlog;
  params.overflow_grace = options_.stream_overflow_grace;
  params.issuer = &issuer_;
  params.catch_up = &catch_up_;
  auto* stream = new DecisionStream(ctx, store_, hub_, executor_, metrics_,
                                    std::move(params));
  // Authentication runs on the executor like the unary calls', and a key
  // being fetched from the IdP holds no thread: the stream waits (it does
  // nothing until Authorized) and resumes on the executor when the fetch
  // or unknown_key_wait ends.
  auto authorize = [this, ctx, stream,
                    arguments](const absl::StatusOr<Principal>& p) {
    if (!p.ok()) {
      RecordIfRefused("StreamDecisions", "", ctx->peer(), p.status());
      LogCall("StreamDecisions", "", ctx->peer(), "", p.status(), std::nullopt);
      stream->Authorized(p.status());
    } else if (!arguments.ok()) {
      LogCall("StreamDecisions", p->id, ctx->peer(), "", arguments,
              std::nullopt);
      stream->Authorized(arguments);
    } else {
      // The stream's own end is not logged; this line records who opened it.
      LogCall("StreamDecisions", p->id, ctx->peer(), "", absl::OkStatus(),
              std::nullopt);
      // Agents only ever receive events of their own approvals.
      stream->Authorized(SeesAll(*p) ? std::nullopt
                                     : std::optional<std::string>(p->id));
    }
  };
  executor_.Submit([this, ctx, authorize] {
    std::optional<absl::StatusOr<Principal>> principal =
        auth_.AuthenticateOrDefer(
            *ctx, [this, authorize](absl::StatusOr<Principal> later) {
              executor_.Submit(
                  [authorize, later = std::move(later)] { authorize(later); });
            });
    if (principal.has_value()) authorize(*principal);
  });
  return stream;
}

}  // namespace approval
