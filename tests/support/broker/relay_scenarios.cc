#include "tests/support/broker/relay_scenarios.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>

#include "nlohmann/json.hpp"

namespace approval::testing {
namespace {

using grpc::StatusCode;

constexpr char kRelay[] = "slack-bot";

std::string MustRequest(BrokerHarness& h, const std::string& identity,
                        const std::string& action = "db.export") {
  v1::RequestApprovalRequest req = ExportRequest();
  req.set_action(action);
  v1::RequestApprovalResponse resp;
  grpc::Status s = h.Request(identity, req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(resp.created());
  return resp.approval().id();
}

grpc::Status RelayDecide(BrokerHarness& h, const std::string& relay,
                         const std::string& id, const std::string& user,
                         v1::Verdict verdict = v1::APPROVE,
                         v1::DecideResponse* resp = nullptr) {
  v1::DecideRequest req;
  req.set_approval_id(id);
  req.set_verdict(verdict);
  req.set_platform_user(user);
  v1::DecideResponse ignored;
  return h.Stub()->Decide(h.Context(relay).get(), req,
                          resp != nullptr ? resp : &ignored);
}

int64_t AuditCount(ApprovalStore& store) {
  absl::StatusOr<std::vector<AuditEvent>> events = store.AuditEvents(0, 100000);
  REQUIRE(events.ok());
  return static_cast<int64_t>(events->size());
}

AuditEvent LastAudit(ApprovalStore& store) {
  absl::StatusOr<std::vector<AuditEvent>> events = store.AuditEvents(0, 100000);
  REQUIRE(events.ok());
  REQUIRE_FALSE(events->empty());
  return events->back();
}

// The approval is still pending with no review.
void CheckUntouched(BrokerHarness& h, const std::string& id) {
  v1::Approval a;
  REQUIRE(h.Get("root", id, &a).ok());
  CHECK(a.state() == v1::PENDING);
  CHECK(a.reviews_size() == 0);
}

// A refusal before the store: PERMISSION_DENIED whose message contains
// `says`, no audit event, the approval untouched.
void CheckRefusedUnaudited(BrokerHarness& h, ApprovalStore& store,
                           const std::string& relay, const std::string& user,
                           const std::string& says) {
  const std::string id = MustRequest(h, "agent-1");
  const int64_t before = AuditCount(store);
  grpc::Status s = RelayDecide(h, relay, id, user);
  INFO(s.error_message());
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK(s.error_message().find(says) != std::string::npos);
  CHECK(AuditCount(store) == before);
  CheckUntouched(h, id);
}

void RelayReviewIsTheHumans(BrokerHarness& h, ApprovalStore& store) {
  const std::string id = MustRequest(h, "agent-1");
  v1::DecideResponse resp;
  grpc::Status s =
      RelayDecide(h, kRelay, id, "slack:T0123/UALICE", v1::APPROVE, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(resp.approval().reviews_size() == 1);
  const v1::Review& r = resp.approval().reviews(0);
  CHECK(r.reviewer() == "alice");
  CHECK(r.relay() == "token:slack-bot");
  CHECK(r.platform_user() == "slack:T0123/UALICE");
  // As stored, read back.
  v1::Approval a;
  REQUIRE(h.Get("root", id, &a).ok());
  REQUIRE(a.reviews_size() == 1);
  CHECK(a.reviews(0).reviewer() == "alice");
  CHECK(a.reviews(0).relay() == "token:slack-bot");
  CHECK(a.reviews(0).platform_user() == "slack:T0123/UALICE");
  // The audit event names the human as actor and records the relay.
  const AuditEvent e = LastAudit(store);
  CHECK(e.type == EventType::kReviewed);
  CHECK(e.actor == "alice");
  const nlohmann::json d = nlohmann::json::parse(e.details_json);
  CHECK(d.at("relay") == "token:slack-bot");
  CHECK(d.at("platform_user") == "slack:T0123/UALICE");
  // The audit chain still proves the rows.
  v1::VerifyAuditLogResponse report;
  REQUIRE(h.Stub()->VerifyAuditLog(h.Context("root").get(), {}, &report).ok());
  INFO(report.problem());
  CHECK(report.verified());
}

void RelaySelfApprovalRefusedAndAudited(BrokerHarness& h,
                                        ApprovalStore& store) {
  const std::string id = MustRequest(h, "root");
  const int64_t before = AuditCount(store);
  grpc::Status s = RelayDecide(h, kRelay, id, "slack:T0123/UROOT");
  INFO(s.error_message());
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK(s.error_message().find("self-approval") != std::string::npos);
  REQUIRE(AuditCount(store) == before + 1);
  const AuditEvent e = LastAudit(store);
  CHECK(e.type == EventType::kDecisionRefused);
  CHECK(e.actor == "root");
  CHECK(nlohmann::json::parse(e.details_json).at("relay") == "token:slack-bot");
  CheckUntouched(h, id);
}

void RelayOnBehalfOfSelfApprovalRefused(BrokerHarness& h,
                                        ApprovalStore& store) {
  // agent-2 acts for alice: alice may not decide it, through a bot neither.
  const std::string id = MustRequest(h, "agent-2");
  const int64_t before = AuditCount(store);
  grpc::Status s = RelayDecide(h, kRelay, id, "slack:T0123/UALICE");
  INFO(s.error_message());
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK(AuditCount(store) == before + 1);
  CHECK(LastAudit(store).type == EventType::kDecisionRefused);
  CheckUntouched(h, id);
}

void RelayThenDirectClickCountsOnce(BrokerHarness& h, ApprovalStore&) {
  const std::string id = MustRequest(h, "agent-1");
  REQUIRE(RelayDecide(h, kRelay, id, "slack:T0123/UALICE").ok());
  v1::DecideResponse resp;
  grpc::Status s = h.Decide("alice", id, v1::APPROVE, &resp);
  CHECK(s.error_code() == StatusCode::ALREADY_EXISTS);
  v1::Approval a;
  REQUIRE(h.Get("root", id, &a).ok());
  CHECK(a.state() == v1::PENDING);
  CHECK(a.reviews_size() == 1);
  CHECK(a.approvals_missing() == 1);
}

void DirectThenRelayClickCountsOnce(BrokerHarness& h, ApprovalStore&) {
  const std::string id = MustRequest(h, "agent-1");
  v1::DecideResponse resp;
  REQUIRE(h.Decide("alice", id, v1::APPROVE, &resp).ok());
  grpc::Status s = RelayDecide(h, kRelay, id, "slack:T0123/UALICE");
  CHECK(s.error_code() == StatusCode::ALREADY_EXISTS);
  v1::Approval a;
  REQUIRE(h.Get("root", id, &a).ok());
  CHECK(a.state() == v1::PENDING);
  CHECK(a.approvals_missing() == 1);
}

void TwoHumansThroughOneRelayMeetQuorum(BrokerHarness& h, ApprovalStore&) {
  const std::string id = MustRequest(h, "agent-1");
  REQUIRE(RelayDecide(h, kRelay, id, "slack:T0123/UALICE").ok());
  v1::DecideResponse resp;
  REQUIRE(
      RelayDecide(h, kRelay, id, "slack:T0123/UBOB", v1::APPROVE, &resp).ok());
  CHECK(resp.approval().state() == v1::APPROVED);
  CHECK(resp.approval().decided_by() == "bob");
}

void UnlinkedPlatformUserRefused(BrokerHarness& h, ApprovalStore& store) {
  CheckRefusedUnaudited(h, store, kRelay, "slack:T0123/UNOBODY",
                        "this Slack account is not linked to a reviewer");
}

void ForeignNamespaceRefused(BrokerHarness& h, ApprovalStore& store) {
  // Linked to bob, but on a platform this relay does not serve.
  CheckRefusedUnaudited(h, store, kRelay, "teams:tenant-1/bob",
                        "outside the workspace");
}

void NonRelaySettingPlatformUserRefused(BrokerHarness& h,
                                        ApprovalStore& store) {
  CheckRefusedUnaudited(h, store, "alice", "slack:T0123/UBOB",
                        "only a configured relay");
}

void RelayWithoutPlatformUserRefused(BrokerHarness& h, ApprovalStore& store) {
  // admin-bot holds the admin role, yet never reviews as itself.
  CheckRefusedUnaudited(h, store, "admin-bot", "", "never reviews as itself");
}

void RelayForNonReviewerRefused(BrokerHarness& h, ApprovalStore& store) {
  CheckRefusedUnaudited(h, store, kRelay, "slack:T0123/UAGENT",
                        "is not a reviewer");
}

void RelayOnRuleWithRelaysDisallowedRefused(BrokerHarness& h,
                                            ApprovalStore& store) {
  const std::string id = MustRequest(h, "agent-1", "vault.read");
  const int64_t before = AuditCount(store);
  grpc::Status s = RelayDecide(h, kRelay, id, "slack:T0123/UALICE");
  INFO(s.error_message());
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK(s.error_message().find("through a chat bot") != std::string::npos);
  REQUIRE(AuditCount(store) == before + 1);
  CHECK(LastAudit(store).type == EventType::kDecisionRefused);
  CHECK(LastAudit(store).actor == "alice");
  CheckUntouched(h, id);
  // The same human with their own credentials may decide.
  v1::DecideResponse resp;
  CHECK(h.Decide("alice", id, v1::APPROVE, &resp).ok());
}

void RelayedHumanOutsideReviewerGroupsRefused(BrokerHarness& h,
                                              ApprovalStore& store) {
  const std::string id = MustRequest(h, "agent-1", "secure.rotate");
  const int64_t before = AuditCount(store);
  grpc::Status s = RelayDecide(h, kRelay, id, "slack:T0123/UALICE");
  CHECK(s.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK(AuditCount(store) == before + 1);
  CheckUntouched(h, id);
  // bob is in security: through the relay he may.
  CHECK(RelayDecide(h, kRelay, id, "slack:T0123/UBOB").ok());
}

void MalformedPlatformUserInvalid(BrokerHarness& h, ApprovalStore& store) {
  const std::string id = MustRequest(h, "agent-1");
  const int64_t before = AuditCount(store);
  for (const std::string& bad :
       {std::string("UALICE"), std::string("token:alice"),
        std::string("slack:T0123/"), "slack:T0123/" + std::string(300, 'u')}) {
    grpc::Status s = RelayDecide(h, kRelay, id, bad);
    INFO(bad.substr(0, 40) << ": " << s.error_message());
    CHECK(s.error_code() == StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().rfind("platform_user", 0) == 0);
  }
  CHECK(AuditCount(store) == before);
  CheckUntouched(h, id);
}

void RelayCannotRequestWithoutAgentRole(BrokerHarness& h, ApprovalStore&) {
  v1::RequestApprovalResponse resp;
  // An admin may request approvals, but not when it is a relay.
  grpc::Status admin = h.Request("admin-bot", ExportRequest(), &resp);
  CHECK(admin.error_code() == StatusCode::PERMISSION_DENIED);
  CHECK(admin.error_message().find("agent role") != std::string::npos);
  grpc::Status observer = h.Request(kRelay, ExportRequest(), &resp);
  CHECK(observer.error_code() == StatusCode::PERMISSION_DENIED);
  v1::ListApprovalsResponse list;
  REQUIRE(h.Stub()->ListApprovals(h.Context("root").get(), {}, &list).ok());
  CHECK(list.approvals_size() == 0);
}

void RelayWithAgentRoleMayRequest(BrokerHarness& h, ApprovalStore&) {
  v1::RequestApprovalResponse resp;
  grpc::Status s = h.Request("agent-bot", ExportRequest(), &resp);
  INFO(s.error_message());
  CHECK(s.ok());
}

std::unique_ptr<grpc::ClientReader<v1::DecisionEvent>> Stream(
    BrokerHarness& h, grpc::ClientContext* ctx,
    const std::vector<std::string>& ids, bool progress) {
  v1::StreamDecisionsRequest req;
  for (const std::string& id : ids) req.add_approval_ids(id);
  req.set_include_progress(progress);
  return h.Stub()->StreamDecisions(ctx, req);
}

void ReviewedEventOnNoIdsStream(BrokerHarness& h, ApprovalStore&) {
  auto ctx = h.Context(kRelay);
  auto stream = Stream(h, ctx.get(), {}, false);
  stream->WaitForInitialMetadata();
  const std::string id = MustRequest(h, "agent-1");
  REQUIRE(RelayDecide(h, kRelay, id, "slack:T0123/UALICE").ok());
  v1::DecisionEvent created;
  REQUIRE(ReadEvent(*stream, &created));
  CHECK(created.type() == v1::EVENT_CREATED);
  v1::DecisionEvent reviewed;
  REQUIRE(ReadEvent(*stream, &reviewed));
  CHECK(reviewed.type() == v1::EVENT_REVIEWED);
  CHECK(reviewed.approval().id() == id);
  CHECK(reviewed.actor() == "alice");
  CHECK(reviewed.review().reviewer() == "alice");
  CHECK(reviewed.review().verdict() == v1::APPROVE);
  CHECK(reviewed.review().platform_user() == "slack:T0123/UALICE");
  CHECK(reviewed.approvals_missing() == 1);
  ctx->TryCancel();
}

void ReviewedEventOnlyOnIdStreamsThatAsk(BrokerHarness& h, ApprovalStore&) {
  const std::string id = MustRequest(h, "agent-1");
  auto plain_ctx = h.Context("agent-1");
  auto plain = Stream(h, plain_ctx.get(), {id}, false);
  plain->WaitForInitialMetadata();
  auto progress_ctx = h.Context("agent-1");
  auto progress = Stream(h, progress_ctx.get(), {id}, true);
  progress->WaitForInitialMetadata();
  v1::DecideResponse resp;
  REQUIRE(h.Decide("alice", id, v1::APPROVE, &resp).ok());
  REQUIRE(h.Decide("bob", id, v1::APPROVE, &resp).ok());
  // Without progress: the terminal event only, then the stream ends.
  v1::DecisionEvent e;
  REQUIRE(ReadEvent(*plain, &e));
  CHECK(e.type() == v1::EVENT_APPROVED);
  CHECK_FALSE(ReadEvent(*plain, &e));
  CHECK(plain->Finish().ok());
  // With progress: both reviews, then the terminal event.
  REQUIRE(ReadEvent(*progress, &e));
  CHECK(e.type() == v1::EVENT_REVIEWED);
  CHECK(e.review().reviewer() == "alice");
  CHECK(e.approvals_missing() == 1);
  REQUIRE(ReadEvent(*progress, &e));
  CHECK(e.type() == v1::EVENT_REVIEWED);
  CHECK(e.review().reviewer() == "bob");
  CHECK(e.approvals_missing() == 0);
  REQUIRE(ReadEvent(*progress, &e));
  CHECK(e.type() == v1::EVENT_APPROVED);
  CHECK_FALSE(ReadEvent(*progress, &e));
  CHECK(progress->Finish().ok());
}

void ReviewedEventsCaughtUpWithProgress(BrokerHarness& h, ApprovalStore&) {
  // Reviews committed before the stream opens come from the catch-up.
  const std::string id = MustRequest(h, "agent-1");
  v1::DecideResponse resp;
  REQUIRE(h.Decide("alice", id, v1::APPROVE, &resp).ok());
  REQUIRE(h.Decide("bob", id, v1::DENY, &resp).ok());
  auto ctx = h.Context("agent-1");
  auto stream = Stream(h, ctx.get(), {id}, true);
  v1::DecisionEvent e;
  REQUIRE(ReadEvent(*stream, &e));
  CHECK(e.type() == v1::EVENT_REVIEWED);
  REQUIRE(ReadEvent(*stream, &e));
  CHECK(e.type() == v1::EVENT_REVIEWED);
  CHECK(e.review().verdict() == v1::DENY);
  REQUIRE(ReadEvent(*stream, &e));
  CHECK(e.type() == v1::EVENT_DENIED);
  CHECK_FALSE(ReadEvent(*stream, &e));
}

class ScenarioInvoker final : public Catch::ITestInvoker {
 public:
  ScenarioInvoker(Scenario scenario, std::function<void(const Scenario&)> run)
      : scenario_(std::move(scenario)), run_(std::move(run)) {}
  void invoke() const override { run_(scenario_); }

 private:
  const Scenario scenario_;
  const std::function<void(const Scenario&)> run_;
};

}  // namespace

bool RegisterScenarioTests(const std::string& prefix, const std::string& tags,
                           const std::vector<Scenario>& scenarios,
                           std::function<void(const Scenario&)> run) {
  for (const Scenario& s : scenarios) {
    const std::string name = prefix + s.name;
    // The registry owns the invoker for the life of the process.
    Catch::getMutableRegistryHub().registerTest(Catch::makeTestCase(
        new ScenarioInvoker(s, run), "", Catch::NameAndTags(name, tags),
        CATCH_INTERNAL_LINEINFO));
  }
  return true;
}

std::vector<Scenario> RelayScenarios() {
  return {
      {"relay decides for a linked human: the human is the reviewer of "
       "record, the relay is recorded",
       RelayReviewIsTheHumans},
      {"relay: the human's own request is refused (self_approval) and "
       "audited",
       RelaySelfApprovalRefusedAndAudited},
      {"relay: the human behind the requesting agent is refused "
       "(on_behalf_of_self_approval)",
       RelayOnBehalfOfSelfApprovalRefused},
      {"relay then direct click by the same human counts once",
       RelayThenDirectClickCountsOnce},
      {"direct then relay click by the same human counts once",
       DirectThenRelayClickCountsOnce},
      {"two humans through one relay meet a quorum of two",
       TwoHumansThroughOneRelayMeetQuorum},
      {"relay: unlinked platform identity refused (relay_unlinked_user)",
       UnlinkedPlatformUserRefused},
      {"relay: platform identity of a foreign namespace refused "
       "(relay_foreign_namespace)",
       ForeignNamespaceRefused},
      {"a non-relay setting platform_user is refused "
       "(platform_user_not_relay)",
       NonRelaySettingPlatformUserRefused},
      {"a relay without platform_user is refused, even as admin "
       "(relay_without_platform_user)",
       RelayWithoutPlatformUserRefused},
      {"relay: a linked human without the reviewer role is refused "
       "(relay_user_not_reviewer)",
       RelayForNonReviewerRefused},
      {"relay on a rule with relays_allowed false is refused and audited "
       "(relay_not_allowed)",
       RelayOnRuleWithRelaysDisallowedRefused},
      {"relay: reviewer groups apply to the human (not_in_reviewer_groups)",
       RelayedHumanOutsideReviewerGroupsRefused},
      {"relay: malformed platform_user is INVALID_ARGUMENT",
       MalformedPlatformUserInvalid},
      {"a relay without the agent role cannot request approvals "
       "(relay_not_agent)",
       RelayCannotRequestWithoutAgentRole},
      {"a relay with the agent role may request approvals",
       RelayWithAgentRoleMayRequest},
      {"EVENT_REVIEWED arrives on a no-ids stream with approvals missing",
       ReviewedEventOnNoIdsStream},
      {"EVENT_REVIEWED reaches id streams only with include_progress",
       ReviewedEventOnlyOnIdStreamsThatAsk},
      {"EVENT_REVIEWED is caught up on an id stream with include_progress",
       ReviewedEventsCaughtUpWithProgress},
  };
}

}  // namespace approval::testing
