#include "tests/support/broker/scenarios.h"

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"
#include "wire/canonical.h"

namespace approval::testing {
namespace {

using grpc::StatusCode;

std::string MustRequest(BrokerHarness& h, const std::string& identity,
                        const std::string& table = "customers") {
  v1::RequestApprovalResponse resp;
  grpc::Status s = h.Request(identity, ExportRequest(table), &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(resp.created());
  return resp.approval().id();
}

std::unique_ptr<grpc::ClientReader<v1::DecisionEvent>> Follow(
    BrokerHarness& h, grpc::ClientContext* ctx,
    const std::vector<std::string>& ids, uint64_t after_cursor = 0) {
  v1::StreamDecisionsRequest req;
  for (const std::string& id : ids) req.add_approval_ids(id);
  req.set_after_cursor(after_cursor);
  // The stub must outlive the reader only until the call starts.
  auto stream = h.Stub()->StreamDecisions(ctx, req);
  // The broker sends headers once the subscription is in place: a stream
  // that follows everything from now sees only what commits after that
  // (on a busy machine the first request could otherwise commit first).
  stream->WaitForInitialMetadata();
  return stream;
}

void FullFlow(BrokerHarness& h, ApprovalStore&) {
  v1::RequestApprovalResponse created;
  REQUIRE(h.Request("agent-1", ExportRequest(), &created).ok());
  const v1::Approval& a = created.approval();
  CHECK(a.state() == v1::PENDING);
  CHECK(a.requester() == "agent-1");
  CHECK(a.action_digest() ==
        ActionDigest("db.export", "postgres://prod/customers",
                     R"({"rows":1200,"table":"customers"})"));
  CHECK(a.expire_time().seconds() - a.create_time().seconds() == 600);

  // The agent follows before the decision...
  auto before_ctx = h.Context("agent-1");
  auto before = Follow(h, before_ctx.get(), {a.id()});

  // ...a reviewer finds it pending and approves it...
  v1::ListApprovalsRequest list;
  list.set_state(v1::PENDING);
  v1::ListApprovalsResponse pending;
  REQUIRE(
      h.Stub()->ListApprovals(h.Context("alice").get(), list, &pending).ok());
  REQUIRE(pending.approvals_size() == 1);
  CHECK(pending.approvals(0).id() == a.id());
  v1::DecideResponse decided;
  REQUIRE(h.Decide("alice", a.id(), v1::APPROVE, &decided).ok());
  CHECK(decided.approval().state() == v1::APPROVED);
  CHECK(decided.approval().decided_by() == "alice");

  // ...and the waiting stream delivers it.
  v1::DecisionEvent event;
  REQUIRE(ReadEvent(*before, &event));
  CHECK(event.type() == v1::EVENT_APPROVED);
  CHECK(event.approval().id() == a.id());
  CHECK(event.approval().state() == v1::APPROVED);
  CHECK(event.actor() == "alice");
  CHECK(event.cursor() > 0);
  before_ctx->TryCancel();

  // An agent that subscribes after the decision still gets it, first.
  auto after_ctx = h.Context("agent-1");
  auto after = Follow(h, after_ctx.get(), {a.id()});
  v1::DecisionEvent late;
  REQUIRE(ReadEvent(*after, &late));
  CHECK(late.type() == v1::EVENT_APPROVED);
  CHECK(late.cursor() == event.cursor());
  CHECK(late.approval().decided_by() == "alice");
  // Every followed approval is terminal: the stream ends by itself.
  CHECK_FALSE(ReadEvent(*after, &late));
  CHECK(after->Finish().ok());

  v1::Approval got;
  REQUIRE(h.Get("agent-1", a.id(), &got).ok());
  CHECK(got.state() == v1::APPROVED);
}

void DenyFlow(BrokerHarness& h, ApprovalStore&) {
  std::string id = MustRequest(h, "agent-1");
  auto ctx = h.Context("agent-1");
  auto stream = Follow(h, ctx.get(), {id});
  v1::DecideResponse resp;
  REQUIRE(h.Decide("bob", id, v1::DENY, &resp).ok());
  v1::DecisionEvent event;
  REQUIRE(ReadEvent(*stream, &event));
  CHECK(event.type() == v1::EVENT_DENIED);
  CHECK(event.approval().state() == v1::DENIED);
  CHECK(event.approval().decision_comment() == "decided by bob");
  ctx->TryCancel();
}

void AdminCannotApproveOwnRequest(BrokerHarness& h, ApprovalStore& store) {
  std::string id = MustRequest(h, "root");
  v1::DecideResponse resp;
  grpc::Status s = h.Decide("root", id, v1::APPROVE, &resp);
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK_THAT(s.error_message(),
             Catch::Contains("another reviewer must decide"));
  v1::Approval got;
  REQUIRE(h.Get("alice", id, &got).ok());
  CHECK(got.state() == v1::PENDING);
  absl::StatusOr<std::vector<AuditEvent>> audit = store.AuditEvents(0, 100);
  REQUIRE(audit.ok());
  REQUIRE(audit->size() == 2);
  CHECK(audit->back().type == EventType::kDecisionRefused);
  CHECK(audit->back().actor == "root");
  CHECK(audit->back().approval_id == id);
  std::string metrics =
      prometheus::TextSerializer().Serialize(h.metrics().registry()->Collect());
  CHECK_THAT(metrics,
             Catch::Contains("approval_self_approvals_refused_total 1"));
  // Another reviewer still can.
  CHECK(h.Decide("alice", id, v1::APPROVE, &resp).ok());
}

void RoleChecks(BrokerHarness& h, ApprovalStore& store) {
  std::string id = MustRequest(h, "agent-1");
  int64_t cursor = *store.LatestCursor();
  v1::DecideResponse decided;
  // An agent may not decide, a reviewer may not request.
  CHECK(h.Decide("agent-2", id, v1::APPROVE, &decided).error_code() ==
        StatusCode::PERMISSION_DENIED);
  v1::RequestApprovalResponse req;
  CHECK(h.Request("alice", ExportRequest(), &req).error_code() ==
        StatusCode::PERMISSION_DENIED);
  // Agents see only their own approvals.
  v1::Approval got;
  CHECK(h.Get("agent-2", id, &got).error_code() == StatusCode::NOT_FOUND);
  CHECK(h.Get("agent-1", id, &got).ok());
  v1::ListApprovalsResponse list;
  REQUIRE(h.Stub()->ListApprovals(h.Context("agent-2").get(), {}, &list).ok());
  CHECK(list.approvals_size() == 0);
  // Only the requester cancels.
  v1::CancelApprovalRequest cancel;
  cancel.set_approval_id(id);
  v1::Approval cancelled;
  CHECK(h.Stub()
            ->CancelApproval(h.Context("agent-2").get(), cancel, &cancelled)
            .error_code() == StatusCode::PERMISSION_DENIED);
  // Missing and unknown credentials.
  grpc::ClientContext anonymous;
  CHECK(h.Stub()->GetApproval(&anonymous, {}, &got).error_code() ==
        StatusCode::UNAUTHENTICATED);
  grpc::ClientContext forged;
  forged.AddMetadata("authorization", "Bearer not-a-real-token");
  grpc::Status s = h.Stub()->GetApproval(&forged, {}, &got);
  CHECK(s.error_code() == StatusCode::UNAUTHENTICATED);
  CHECK_THAT(s.error_message(), !Catch::Contains("not-a-real-token"));
  grpc::ClientContext anonymous_stream;
  auto stream = h.Stub()->StreamDecisions(&anonymous_stream, {});
  v1::DecisionEvent event;
  CHECK_FALSE(stream->Read(&event));
  CHECK(stream->Finish().error_code() == StatusCode::UNAUTHENTICATED);
  // None of the refusals changed anything.
  CHECK(*store.LatestCursor() == cursor);
}

void IdempotentRequest(BrokerHarness& h, ApprovalStore& store) {
  v1::RequestApprovalResponse first, again, other;
  REQUIRE(h.Request("agent-1", ExportRequest("customers", "k-1"), &first).ok());
  CHECK(first.created());
  REQUIRE(h.Request("agent-1", ExportRequest("customers", "k-1"), &again).ok());
  CHECK_FALSE(again.created());
  CHECK(again.approval().id() == first.approval().id());
  grpc::Status s = h.Request("agent-1", ExportRequest("orders", "k-1"), &other);
  CHECK(s.error_code() == StatusCode::ALREADY_EXISTS);
  ListQuery all;
  CHECK(store.List(all)->approvals.size() == 1);
}

void CancelFlow(BrokerHarness& h, ApprovalStore&) {
  std::string id = MustRequest(h, "agent-1");
  auto ctx = h.Context("agent-1");
  auto stream = Follow(h, ctx.get(), {id});
  v1::CancelApprovalRequest req;
  req.set_approval_id(id);
  req.set_reason("no longer needed");
  v1::Approval cancelled;
  REQUIRE(h.Stub()
              ->CancelApproval(h.Context("agent-1").get(), req, &cancelled)
              .ok());
  CHECK(cancelled.state() == v1::CANCELLED);
  v1::DecisionEvent event;
  REQUIRE(ReadEvent(*stream, &event));
  CHECK(event.type() == v1::EVENT_CANCELLED);
  ctx->TryCancel();
  v1::DecideResponse resp;
  grpc::Status s = h.Decide("alice", id, v1::APPROVE, &resp);
  CHECK(s.error_code() == StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(s.error_message(), Catch::Contains("CANCELLED"));
}

void ExpiryReachesStreams(BrokerHarness& h, ApprovalStore&) {
  v1::RequestApprovalRequest req = ExportRequest();
  req.mutable_ttl()->set_seconds(1);
  v1::RequestApprovalResponse resp;
  REQUIRE(h.Request("agent-1", req, &resp).ok());
  auto ctx = h.Context("agent-1");
  auto stream = Follow(h, ctx.get(), {resp.approval().id()});
  v1::DecisionEvent event;
  // Bounded by the context's deadline.
  REQUIRE(ReadEvent(*stream, &event));
  CHECK(event.type() == v1::EVENT_EXPIRED);
  CHECK(event.approval().state() == v1::EXPIRED);
  CHECK(event.actor() == "system");
  ctx->TryCancel();
  v1::DecideResponse decided;
  CHECK(h.Decide("alice", resp.approval().id(), v1::APPROVE, &decided)
            .error_code() == StatusCode::FAILED_PRECONDITION);
}

void BadInputChangesNothing(BrokerHarness& h, ApprovalStore& store) {
  std::string id = MustRequest(h, "agent-1");
  REQUIRE(MustRequest(h, "agent-2", "done").size() > 0);
  int64_t cursor = *store.LatestCursor();

  struct RequestCase {
    const char* name;
    std::function<void(v1::RequestApprovalRequest&)> mutate;
  };
  std::vector<RequestCase> bad_requests = {
      {"empty action", [](auto& r) { r.set_action(""); }},
      {"oversize action", [](auto& r) { r.set_action(std::string(200, 'a')); }},
      {"empty resource", [](auto& r) { r.set_resource(""); }},
      {"oversize resource",
       [](auto& r) { r.set_resource(std::string(2000, 'r')); }},
      {"parameters not an object",
       [](auto& r) { r.set_parameters_json("[1]"); }},
      {"parameters not JSON", [](auto& r) { r.set_parameters_json("{"); }},
      {"parameters over the limit",
       [](auto& r) {
         r.set_parameters_json(R"({"x":")" + std::string(70000, 'x') + R"("})");
       }},
      {"ttl too short",
       [](auto& r) {
         r.mutable_ttl()->set_seconds(0);
         r.mutable_ttl()->set_nanos(1000);
       }},
      {"ttl too long",
       [](auto& r) { r.mutable_ttl()->set_seconds(86400 * 365); }},
  };
  for (const RequestCase& c : bad_requests) {
    v1::RequestApprovalRequest req = ExportRequest();
    c.mutate(req);
    v1::RequestApprovalResponse resp;
    grpc::Status s = h.Request("agent-1", req, &resp);
    INFO(c.name << ": " << s.error_message());
    CHECK(s.error_code() == StatusCode::INVALID_ARGUMENT);
  }

  v1::DecideResponse decided;
  CHECK(h.Decide("alice", "not-a-uuid", v1::APPROVE, &decided).error_code() ==
        StatusCode::INVALID_ARGUMENT);
  CHECK(h.Decide("alice", NewUuid(), v1::APPROVE, &decided).error_code() ==
        StatusCode::NOT_FOUND);
  CHECK(h.Decide("alice", id, v1::VERDICT_UNSPECIFIED, &decided).error_code() ==
        StatusCode::INVALID_ARGUMENT);
  v1::DecideRequest long_comment;
  long_comment.set_approval_id(id);
  long_comment.set_verdict(v1::APPROVE);
  long_comment.set_comment(std::string(5000, 'c'));
  CHECK(h.Stub()
            ->Decide(h.Context("alice").get(), long_comment, &decided)
            .error_code() == StatusCode::INVALID_ARGUMENT);
  v1::Approval got;
  CHECK(h.Get("alice", "123", &got).error_code() ==
        StatusCode::INVALID_ARGUMENT);
  CHECK(h.Get("alice", NewUuid(), &got).error_code() == StatusCode::NOT_FOUND);
  v1::ListApprovalsRequest bad_page;
  bad_page.set_page_token("garbage");
  v1::ListApprovalsResponse list;
  CHECK(h.Stub()
            ->ListApprovals(h.Context("alice").get(), bad_page, &list)
            .error_code() == StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext stream_ctx;
  stream_ctx.AddMetadata("authorization", "Bearer " + h.Token("agent-1"));
  v1::StreamDecisionsRequest bad_ids;
  bad_ids.add_approval_ids("nope");
  auto stream = h.Stub()->StreamDecisions(&stream_ctx, bad_ids);
  v1::DecisionEvent event;
  CHECK_FALSE(stream->Read(&event));
  CHECK(stream->Finish().error_code() == StatusCode::INVALID_ARGUMENT);

  // Decided approvals stay decided.
  REQUIRE(h.Decide("alice", id, v1::APPROVE, &decided).ok());
  cursor = *store.LatestCursor();
  grpc::Status again = h.Decide("bob", id, v1::DENY, &decided);
  CHECK(again.error_code() == StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(again.error_message(), Catch::Contains("APPROVED"));
  CHECK(*store.LatestCursor() == cursor);
  CHECK(h.Get("alice", id, &got).ok());
  CHECK(got.state() == v1::APPROVED);
}

void StreamResumesWithoutGapsOrRepeats(BrokerHarness& h, ApprovalStore&) {
  // A reviewer follows everything.
  auto ctx = h.Context("alice");
  auto stream = Follow(h, ctx.get(), {});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(MustRequest(h, "agent-1", absl::StrCat("t", i)));
  }
  std::vector<uint64_t> cursors;
  v1::DecisionEvent event;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(ReadEvent(*stream, &event));
    CHECK(event.type() == v1::EVENT_CREATED);
    CHECK(event.approval().id() == ids[i]);
    cursors.push_back(event.cursor());
  }
  // The stream drops after the second event was processed.
  ctx->TryCancel();
  uint64_t resume_at = cursors[1];

  // Meanwhile: a decision and another request.
  v1::DecideResponse decided;
  REQUIRE(h.Decide("bob", ids[0], v1::APPROVE, &decided).ok());
  std::string fourth = MustRequest(h, "agent-2", "t3");

  auto resumed_ctx = h.Context("alice");
  auto resumed = Follow(h, resumed_ctx.get(), {}, resume_at);
  // Exactly: created(ids[2]), bob's review and approved(ids[0]) (a
  // stream of every approval shows progress), created(fourth), in order.
  std::vector<std::pair<v1::EventType, std::string>> expected = {
      {v1::EVENT_CREATED, ids[2]},
      {v1::EVENT_REVIEWED, ids[0]},
      {v1::EVENT_APPROVED, ids[0]},
      {v1::EVENT_CREATED, fourth}};
  uint64_t last = resume_at;
  for (const auto& [type, id] : expected) {
    REQUIRE(ReadEvent(*resumed, &event));
    CHECK(event.type() == type);
    CHECK(event.approval().id() == id);
    CHECK(event.cursor() > last);
    last = event.cursor();
  }
  // Nothing repeated: the next event is the next new one, live.
  std::string fifth = MustRequest(h, "agent-1", "t4");
  REQUIRE(ReadEvent(*resumed, &event));
  CHECK(event.approval().id() == fifth);
  CHECK(event.cursor() > last);
  resumed_ctx->TryCancel();
}

void AgentStreamSeesOnlyOwnApprovals(BrokerHarness& h, ApprovalStore&) {
  auto ctx = h.Context("agent-2");
  auto stream = Follow(h, ctx.get(), {});
  MustRequest(h, "agent-1", "theirs");
  std::string mine = MustRequest(h, "agent-2", "mine");
  v1::DecisionEvent event;
  REQUIRE(ReadEvent(*stream, &event));
  CHECK(event.approval().id() == mine);
  ctx->TryCancel();
}

void AuditLogVerifiesForAdminsOnly(BrokerHarness& h, ApprovalStore&) {
  std::string id = MustRequest(h, "agent-1");
  v1::DecideResponse decided;
  REQUIRE(h.Decide("alice", id, v1::DENY, &decided).ok());
  v1::VerifyAuditLogResponse resp;
  grpc::Status s = h.Stub()->VerifyAuditLog(h.Context("root").get(), {}, &resp);
  REQUIRE(s.ok());
  CHECK(resp.verified());
  CHECK(resp.events_verified() == 3);  // created, reviewed, denied
  CHECK(h.Stub()
            ->VerifyAuditLog(h.Context("alice").get(), {}, &resp)
            .error_code() == StatusCode::PERMISSION_DENIED);
}

}  // namespace

// An observer (a bot that only notifies) sees and follows what a reviewer
// sees, and can change nothing.
void ObserverOnlyWatches(BrokerHarness& h, ApprovalStore& store) {
  // Following every event, live, before anything happens.
  auto follow_ctx = h.Context("watcher");
  auto follow = h.Stub()->StreamDecisions(follow_ctx.get(), {});
  follow->WaitForInitialMetadata();
  std::string id = MustRequest(h, "agent-1");
  v1::DecisionEvent event;
  REQUIRE(follow->Read(&event));
  CHECK(event.type() == v1::EVENT_CREATED);
  CHECK(event.approval().id() == id);
  // Another requester's approval, by id and in the list.
  v1::Approval got;
  CHECK(h.Get("watcher", id, &got).ok());
  v1::ListApprovalsResponse list;
  REQUIRE(h.Stub()->ListApprovals(h.Context("watcher").get(), {}, &list).ok());
  CHECK(list.approvals_size() == 1);
  v1::SigningKey key;
  CHECK(h.Stub()->GetSigningKey(h.Context("watcher").get(), {}, &key).ok());

  const int64_t cursor = *store.LatestCursor();
  v1::DecideResponse decided;
  CHECK(h.Decide("watcher", id, v1::APPROVE, &decided).error_code() ==
        StatusCode::PERMISSION_DENIED);
  v1::RequestApprovalResponse req;
  CHECK(h.Request("watcher", ExportRequest(), &req).error_code() ==
        StatusCode::PERMISSION_DENIED);
  v1::CancelApprovalRequest cancel;
  cancel.set_approval_id(id);
  v1::Approval cancelled;
  CHECK(h.Stub()
            ->CancelApproval(h.Context("watcher").get(), cancel, &cancelled)
            .error_code() == StatusCode::PERMISSION_DENIED);
  v1::VerifyAuditLogResponse verified;
  CHECK(h.Stub()
            ->VerifyAuditLog(h.Context("watcher").get(), {}, &verified)
            .error_code() == StatusCode::PERMISSION_DENIED);
  v1::ListAuditEventsResponse audit;
  CHECK(h.Stub()
            ->ListAuditEvents(h.Context("watcher").get(), {}, &audit)
            .error_code() == StatusCode::PERMISSION_DENIED);
  CHECK(*store.LatestCursor() == cursor);
  follow_ctx->TryCancel();
}

std::vector<Scenario> ServiceScenarios() {
  return {
      {"agent to reviewer to stream", FullFlow},
      {"deny reaches the stream", DenyFlow},
      {"admin cannot approve own request", AdminCannotApproveOwnRequest},
      {"role checks", RoleChecks},
      {"observer only watches", ObserverOnlyWatches},
      {"idempotent request", IdempotentRequest},
      {"cancel", CancelFlow},
      {"expiry reaches streams", ExpiryReachesStreams},
      {"bad input changes nothing", BadInputChangesNothing},
      {"stream resumes without gaps or repeats",
       StreamResumesWithoutGapsOrRepeats},
      {"agent stream sees only own approvals", AgentStreamSeesOnlyOwnApprovals},
      {"audit log verifies, for admins only", AuditLogVerifiesForAdminsOnly},
  };
}

}  // namespace approval::testing
