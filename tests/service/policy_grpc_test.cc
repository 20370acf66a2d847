// The review policy through the gRPC API on PostgreSQL: rules and what
// RequestApproval says about them, quorum of distinct people, automatic
// outcomes on the record, signed approval tokens, and the audit query.
#include <algorithm>
#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/domain/token_signer.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/pg/pg_fixture.h"
#include "wire/approval_token.h"
#include "wire/canonical.h"

namespace approval::testing {
namespace {

// alice sits in both groups; bob only in security; reviewer-1 only in
// data-team. reviewer-2 is a reviewer in no group.
constexpr char kPolicy[] = R"({
  "groups": {
    "data-team": ["alice", "reviewer-1"],
    "security": ["alice", "bob"]
  },
  "rules": [
    {"name": "customer-export", "action": "db.export",
     "resource": "postgres://prod/*",
     "reviewer_groups": ["data-team", "security"], "approvals_required": 2,
     "justification_required": true, "justification_min_length": 8,
     "execution_window": "10m"},
    {"name": "read-only", "action": "db.query", "outcome": "auto_approve"},
    {"name": "no-destroy", "action": "infra.destroy", "outcome": "deny"},
    {"name": "everything-else", "action": "*"}
  ]
})";

struct PolicyBroker {
  PolicyBroker() : store(db.OpenAppStore()) {
    Config config = HarnessConfig();
    config.policy_file = dir.Write("policy.json", kPolicy);
    harness = std::make_unique<BrokerHarness>(*store, config);
  }
  TestDatabase db;
  TempDir dir;
  std::unique_ptr<PostgresStore> store;
  std::unique_ptr<BrokerHarness> harness;
};

v1::RequestApprovalRequest Action(const std::string& action) {
  v1::RequestApprovalRequest req = ExportRequest();
  req.set_action(action);
  return req;
}

v1::SigningKey SigningKeyOf(const BrokerHarness& h) {
  v1::SigningKey key;
  auto ctx = h.Context("agent-1");
  grpc::Status s =
      h.Stub()->GetSigningKey(ctx.get(), v1::GetSigningKeyRequest(), &key);
  REQUIRE(s.ok());
  return key;
}

std::vector<v1::AuditEvent> Audit(const BrokerHarness& h,
                                  v1::ListAuditEventsRequest req) {
  std::vector<v1::AuditEvent> out;
  for (;;) {
    v1::ListAuditEventsResponse resp;
    auto ctx = h.Context("root");
    grpc::Status s = h.Stub()->ListAuditEvents(ctx.get(), req, &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
    for (const v1::AuditEvent& e : resp.events()) out.push_back(e);
    if (resp.next_page_token().empty()) return out;
    req.set_page_token(resp.next_page_token());
  }
}

TEST_CASE("RequestApproval says which rule applied and what it needs",
          "[policy][postgres]") {
  PolicyBroker b;
  v1::RequestApprovalResponse resp;
  REQUIRE(b.harness->Request("agent-1", ExportRequest(), &resp).ok());
  const v1::Requirement& r = resp.approval().requirement();
  CHECK(r.rule() == "customer-export");
  CHECK(r.outcome() == v1::REQUIRE_APPROVAL);
  CHECK(r.approvals_required() == 2);
  CHECK(std::vector<std::string>(r.reviewer_groups().begin(),
                                 r.reviewer_groups().end()) ==
        std::vector<std::string>{"data-team", "security"});
  CHECK(r.deny_ends());
  CHECK(r.execution_window().seconds() == 600);
  CHECK(resp.approval().approvals_missing() == 2);

  v1::RequestApprovalRequest other = ExportRequest();
  other.set_resource("postgres://staging/customers");
  REQUIRE(b.harness->Request("agent-1", other, &resp).ok());
  CHECK(resp.approval().requirement().rule() == "everything-else");
  CHECK(resp.approval().requirement().approvals_required() == 1);
}

TEST_CASE(
    "a justification below the rule's minimum is refused and nothing "
    "is stored",
    "[policy][postgres]") {
  PolicyBroker b;
  v1::RequestApprovalRequest req = ExportRequest();
  req.set_justification("short");
  v1::RequestApprovalResponse resp;
  grpc::Status s = b.harness->Request("agent-1", req, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(s.error_message(), Catch::Contains("customer-export"));
  CHECK(Audit(*b.harness, {}).empty());
}

TEST_CASE(
    "2 of 3: a person in two groups counts once, the requester and "
    "outsiders never",
    "[policy][postgres]") {
  PolicyBroker b;
  BrokerHarness& h = *b.harness;
  v1::RequestApprovalResponse created;
  REQUIRE(h.Request("agent-1", ExportRequest(), &created).ok());
  const std::string id = created.approval().id();

  v1::DecideResponse resp;
  grpc::Status first = h.Decide("alice", id, v1::APPROVE, &resp);
  REQUIRE(first.ok());
  CHECK(resp.approval().state() == v1::PENDING);
  CHECK(resp.approval().approvals_missing() == 1);
  CHECK(resp.approval().approval_token().empty());

  grpc::Status twice = h.Decide("alice", id, v1::APPROVE, &resp);
  CHECK(twice.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  grpc::Status outsider = h.Decide("reviewer-2", id, v1::APPROVE, &resp);
  CHECK(outsider.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_THAT(outsider.error_message(), Catch::Contains("data-team"));
  // root is an admin and the requester here: neither role nor group lets
  // anyone approve their own request.
  v1::RequestApprovalResponse own;
  REQUIRE(h.Request("root", ExportRequest("orders"), &own).ok());
  CHECK(
      h.Decide("root", own.approval().id(), v1::APPROVE, &resp).error_code() ==
      grpc::StatusCode::PERMISSION_DENIED);

  v1::Approval got;
  REQUIRE(h.Get("bob", id, &got).ok());
  REQUIRE(got.reviews_size() == 1);
  CHECK(got.reviews(0).reviewer() == "alice");
  CHECK(got.reviews(0).verdict() == v1::APPROVE);
  CHECK(got.approvals_missing() == 1);

  REQUIRE(h.Decide("bob", id, v1::APPROVE, &resp).ok());
  CHECK(resp.approval().state() == v1::APPROVED);
  CHECK(resp.approval().approvals_missing() == 0);
  CHECK(resp.approval().reviews_size() == 2);
  CHECK(resp.approval().decided_by() == "bob");

  v1::ListAuditEventsRequest q;
  q.set_approval_id(id);
  std::vector<std::string> types;
  for (const v1::AuditEvent& e : Audit(h, q)) types.push_back(e.type());
  // Each review is one event, the state change exactly one more; the
  // refused attempts are on the record too.
  CHECK(types ==
        std::vector<std::string>{"created", "reviewed", "decision_refused",
                                 "decision_refused", "reviewed", "approved"});
}

TEST_CASE("one deny ends the request", "[policy][postgres]") {
  PolicyBroker b;
  v1::RequestApprovalResponse created;
  REQUIRE(b.harness->Request("agent-1", ExportRequest(), &created).ok());
  const std::string id = created.approval().id();
  v1::DecideResponse resp;
  REQUIRE(b.harness->Decide("alice", id, v1::APPROVE, &resp).ok());
  REQUIRE(b.harness->Decide("bob", id, v1::DENY, &resp).ok());
  CHECK(resp.approval().state() == v1::DENIED);
  CHECK(b.harness->Decide("reviewer-1", id, v1::APPROVE, &resp).error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_CASE("auto-approve and deny are recorded with the rule that decided",
          "[policy][postgres]") {
  PolicyBroker b;
  BrokerHarness& h = *b.harness;
  v1::RequestApprovalResponse query, destroy;
  REQUIRE(h.Request("agent-1", Action("db.query"), &query).ok());
  REQUIRE(h.Request("agent-1", Action("infra.destroy"), &destroy).ok());
  CHECK(query.approval().state() == v1::APPROVED);
  CHECK(query.approval().requirement().outcome() == v1::AUTO_APPROVE);
  CHECK(query.approval().decided_by() == "policy");
  CHECK_FALSE(query.approval().approval_token().empty());
  CHECK(destroy.approval().state() == v1::DENIED);
  CHECK(destroy.approval().requirement().rule() == "no-destroy");

  v1::ListAuditEventsRequest by_policy;
  by_policy.set_actor("policy");
  std::vector<v1::AuditEvent> events = Audit(h, by_policy);
  REQUIRE(events.size() == 2);
  CHECK(events[0].type() == "approved");
  CHECK(nlohmann::json::parse(events[0].details_json())["rule"] == "read-only");
  CHECK(events[1].type() == "denied");
  CHECK(nlohmann::json::parse(events[1].details_json())["rule"] ==
        "no-destroy");
}

TEST_CASE(
    "an approved approval carries a token that verifies offline and "
    "binds the action",
    "[policy][postgres]") {
  PolicyBroker b;
  BrokerHarness& h = *b.harness;
  v1::RequestApprovalRequest req = ExportRequest();
  v1::RequestApprovalResponse created;
  REQUIRE(h.Request("agent-1", req, &created).ok());
  const std::string id = created.approval().id();
  v1::DecideResponse resp;
  REQUIRE(h.Decide("alice", id, v1::APPROVE, &resp).ok());
  REQUIRE(h.Decide("bob", id, v1::APPROVE, &resp).ok());
  const std::string token = resp.approval().approval_token();
  REQUIRE_FALSE(token.empty());

  v1::SigningKey key = SigningKeyOf(h);
  CHECK(key.algorithm() == "Ed25519");
  CHECK(*KeyIdOf(key.public_key_pem()) == key.key_id());
  absl::StatusOr<ApprovalClaims> claims =
      VerifyApprovalToken(token, key.public_key_pem());
  REQUIRE(claims.ok());
  CHECK(claims->approval_id == id);
  CHECK(claims->rule == "customer-export");
  CHECK(claims->approvers == std::vector<std::string>{"alice", "bob"});
  CHECK(claims->not_after - claims->not_before == absl::Minutes(10));
  // The executor's check: the digest of what it is about to run.
  const std::string digest =
      ActionDigest(req.action(), req.resource(),
                   *CanonicalizeJsonObject(req.parameters_json()));
  CHECK(CheckClaims(*claims, digest, id, claims->not_before).ok());
  const std::string other =
      ActionDigest(req.action(), req.resource(), R"({"rows":1,"table":"x"})");
  CHECK(CheckClaims(*claims, other, id, claims->not_before).code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(CheckClaims(*claims, digest, id, claims->not_after).code() ==
        absl::StatusCode::kFailedPrecondition);

  // The same token whenever the approval is read again.
  v1::Approval got;
  REQUIRE(h.Get("agent-1", id, &got).ok());
  CHECK(got.approval_token() == token);
}

TEST_CASE("the audit query is admin-only, filters and pages",
          "[policy][postgres]") {
  PolicyBroker b;
  BrokerHarness& h = *b.harness;
  v1::RequestApprovalResponse r1, r2;
  REQUIRE(h.Request("agent-1", ExportRequest("a"), &r1).ok());
  REQUIRE(h.Request("agent-2", ExportRequest("b"), &r2).ok());
  v1::DecideResponse resp;
  REQUIRE(h.Decide("alice", r1.approval().id(), v1::APPROVE, &resp).ok());

  v1::ListAuditEventsResponse denied;
  auto ctx = h.Context("alice");
  CHECK(h.Stub()
            ->ListAuditEvents(ctx.get(), v1::ListAuditEventsRequest(), &denied)
            .error_code() == grpc::StatusCode::PERMISSION_DENIED);

  v1::ListAuditEventsRequest paged;
  paged.set_page_size(1);
  std::vector<v1::AuditEvent> all = Audit(h, paged);
  REQUIRE(all.size() == 3);
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].seq() == i + 1);
  CHECK(all[1].prev_hash() == all[0].hash());

  v1::ListAuditEventsRequest by_actor;
  by_actor.set_actor("alice");
  std::vector<v1::AuditEvent> of_alice = Audit(h, by_actor);
  REQUIRE(of_alice.size() == 1);
  CHECK(of_alice[0].type() == "reviewed");

  v1::ListAuditEventsRequest window;
  *window.mutable_start_time() = all[2].occur_time();
  std::vector<v1::AuditEvent> since = Audit(h, window);
  REQUIRE_FALSE(since.empty());
  CHECK(since.back().seq() == 3);

  v1::ListAuditEventsRequest bad;
  bad.set_page_token("not-a-token");
  v1::ListAuditEventsResponse ignored;
  auto admin = h.Context("root");
  CHECK(h.Stub()->ListAuditEvents(admin.get(), bad, &ignored).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace approval::testing

namespace approval::testing {
namespace {

TEST_CASE(
    "GetSigningKey publishes the key set: the signing key and retired keys "
    "until their overlap ends",
    "[policy][postgres][token]") {
  TestDatabase db;
  TempDir dir;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  const std::unique_ptr<TokenSigner> in_overlap = TokenSigner::Generate();
  const std::unique_ptr<TokenSigner> overlap_over = TokenSigner::Generate();
  Config config = HarnessConfig();
  config.policy_file = dir.Write("policy.json", kPolicy);
  config.approval_tokens.audience = "deploy-executor";
  config.approval_tokens.retired_keys = {
      {dir.Write("in-overlap.pub.pem", in_overlap->public_key_pem()),
       absl::Now() + absl::Hours(1)},
      {dir.Write("overlap-over.pub.pem", overlap_over->public_key_pem()),
       absl::Now() - absl::Hours(1)}};
  BrokerHarness h(*store, config);

  const v1::SigningKey key = SigningKeyOf(h);
  absl::StatusOr<ApprovalKeySet> set = ParseApprovalKeys(key.jwks_json());
  REQUIRE(set.ok());
  std::vector<std::string> kids;
  for (const auto& [kid, unused] : set->keys) kids.push_back(kid);
  std::vector<std::string> want = {key.key_id(), in_overlap->key_id()};
  std::sort(want.begin(), want.end());
  CHECK(kids == want);
  // The signing key comes first, as the PEM fields name it.
  CHECK(key.jwks_json().find(key.key_id()) <
        key.jwks_json().find(in_overlap->key_id()));

  v1::RequestApprovalResponse created;
  REQUIRE(h.Request("agent-1", ExportRequest(), &created).ok());
  v1::DecideResponse resp;
  REQUIRE(h.Decide("alice", created.approval().id(), v1::APPROVE, &resp).ok());
  REQUIRE(h.Decide("bob", created.approval().id(), v1::APPROVE, &resp).ok());
  absl::StatusOr<ApprovalClaims> claims =
      VerifyApprovalToken(resp.approval().approval_token(), key.jwks_json());
  REQUIRE(claims.ok());
  CHECK(claims->key_id == key.key_id());
  CHECK(claims->issuer == "approval-broker");
  CHECK(claims->audience == "deploy-executor");
}

}  // namespace
}  // namespace approval::testing
