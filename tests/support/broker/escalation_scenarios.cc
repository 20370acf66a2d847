#include "tests/support/broker/escalation_scenarios.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>

namespace approval::testing {
namespace {

using grpc::StatusCode;

std::string MustRequest(BrokerHarness& h, const std::string& action) {
  v1::RequestApprovalRequest req = ExportRequest();
  req.set_action(action);
  v1::RequestApprovalResponse resp;
  grpc::Status s = h.Request("agent-1", req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(resp.created());
  return resp.approval().id();
}

std::unique_ptr<grpc::ClientReader<v1::DecisionEvent>> Stream(
    BrokerHarness& h, grpc::ClientContext* ctx,
    const std::vector<std::string>& ids, bool progress) {
  v1::StreamDecisionsRequest req;
  for (const std::string& id : ids) req.add_approval_ids(id);
  req.set_include_progress(progress);
  return h.Stub()->StreamDecisions(ctx, req);
}

std::vector<AuditEvent> AuditOf(ApprovalStore& store, const std::string& id,
                                EventType type) {
  AuditQuery q;
  q.approval_id = id;
  q.limit = 1000;
  absl::StatusOr<std::vector<AuditEvent>> events = store.QueryAudit(q);
  REQUIRE(events.ok());
  std::vector<AuditEvent> out;
  for (const AuditEvent& e : *events) {
    if (e.type == type) out.push_back(e);
  }
  return out;
}

void RefusedBeforeEscalation(BrokerHarness& h, ApprovalStore& store) {
  const std::string id = MustRequest(h, "later.rotate");
  v1::Approval a;
  REQUIRE(h.Get("root", id, &a).ok());
  // Frozen on the approval at creation, like its quorum.
  CHECK(a.requirement().escalate_after().seconds() == 3600);
  REQUIRE(a.requirement().escalate_to_size() == 1);
  CHECK(a.requirement().escalate_to(0) == "security");
  CHECK_FALSE(a.has_escalate_time());

  v1::DecideResponse resp;
  grpc::Status s = h.Decide("bob", id, v1::APPROVE, &resp);
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK(s.error_message().find("escalates to [security]") != std::string::npos);
  const std::vector<AuditEvent> refused =
      AuditOf(store, id, EventType::kDecisionRefused);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].actor == "bob");
  REQUIRE(h.Get("root", id, &a).ok());
  CHECK(a.state() == v1::PENDING);
  CHECK(a.reviews_size() == 0);
}

void EscalatesOnceOnStreamsThenTheGroupApproves(BrokerHarness& h,
                                                ApprovalStore& store) {
  auto all_ctx = h.Context("watcher");
  auto all = Stream(h, all_ctx.get(), {}, false);
  all->WaitForInitialMetadata();
  const std::string id = MustRequest(h, "soon.rotate");
  auto progress_ctx = h.Context("agent-1");
  auto progress = Stream(h, progress_ctx.get(), {id}, true);
  auto plain_ctx = h.Context("agent-1");
  auto plain = Stream(h, plain_ctx.get(), {id}, false);

  // The stream without ids: created, then escalated (bounded by the
  // context's deadline).
  v1::DecisionEvent e;
  REQUIRE(ReadEvent(*all, &e));
  CHECK(e.type() == v1::EVENT_CREATED);
  REQUIRE(ReadEvent(*all, &e));
  REQUIRE(e.type() == v1::EVENT_ESCALATED);
  CHECK(e.approval().id() == id);
  CHECK(e.actor() == "system");
  CHECK(e.approval().state() == v1::PENDING);
  REQUIRE(e.approval().has_escalate_time());
  CHECK(e.approval().escalate_time().seconds() >=
        e.approval().create_time().seconds() + 1);

  // The id stream with progress sees it too.
  v1::DecisionEvent p;
  REQUIRE(ReadEvent(*progress, &p));
  CHECK(p.type() == v1::EVENT_ESCALATED);
  CHECK(p.cursor() == e.cursor());

  // Now a member of the escalation group counts toward the quorum.
  v1::DecideResponse resp;
  grpc::Status s = h.Decide("bob", id, v1::APPROVE, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(resp.approval().state() == v1::APPROVED);
  CHECK(resp.approval().decided_by() == "bob");
  CHECK_FALSE(resp.approval().approval_token().empty());

  // Without progress: the terminal event only.
  REQUIRE(ReadEvent(*plain, &p));
  CHECK(p.type() == v1::EVENT_APPROVED);
  CHECK_FALSE(ReadEvent(*plain, &p));
  REQUIRE(ReadEvent(*progress, &p));
  CHECK(p.type() == v1::EVENT_REVIEWED);
  REQUIRE(ReadEvent(*progress, &p));
  CHECK(p.type() == v1::EVENT_APPROVED);
  all_ctx->TryCancel();

  // Written once, although the sweep ran many times while it was pending.
  const std::vector<AuditEvent> escalated =
      AuditOf(store, id, EventType::kEscalated);
  REQUIRE(escalated.size() == 1);
  CHECK(escalated[0].seq == static_cast<int64_t>(e.cursor()));
  CHECK(escalated[0].actor == "system");
}

}  // namespace

Config EscalationConfig(const TempDir& dir) {
  Config c = HarnessConfig();
  c.policy_file = dir.Write("policy.json", R"({
    "groups": {"dba": ["alice"], "security": ["bob"]},
    "rules": [
      {"name": "soon", "action": "soon.*", "reviewer_groups": ["dba"],
       "escalate_after": "1s", "escalate_to": ["security"]},
      {"name": "later", "action": "later.*", "reviewer_groups": ["dba"],
       "escalate_after": "1h", "escalate_to": ["security"]},
      {"name": "default", "action": "*"}]})");
  return c;
}

std::vector<Scenario> EscalationScenarios() {
  return {
      {"an escalate_to member is refused before escalation, audited",
       RefusedBeforeEscalation},
      {"escalation fires once, on streams, then the group approves",
       EscalatesOnceOnStreamsThenTheGroupApproves},
  };
}

}  // namespace approval::testing
