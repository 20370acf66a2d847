// Someone holding the broker's database credentials (the application role),
// but not its signing key, tries to approve and to rewrite history: every
// attempt is named by audit verification, and no approval token is issued.
#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pqxx/pqxx"
#include "server/domain/audit_chain.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "wire/canonical.h"

namespace approval::testing {
namespace {

// What the attacker can do with the application role: append an event whose
// plain hash chain is correct, sealed by a key of their own (the broker's is
// not theirs), and move the chain head on.
int64_t ForgeEvent(pqxx::work& tx, const std::string& approval_id,
                   EventType type, const std::string& actor,
                   const std::string& details_json) {
  pqxx::row head = tx.exec1(
      "SELECT last_seq, encode(last_hash, 'hex') FROM audit_chain_head "
      "FOR UPDATE");
  AuditEvent e;
  e.seq = head[0].as<int64_t>() + 1;
  e.approval_id = approval_id;
  e.type = type;
  e.actor = actor;
  e.occurred_at = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
  e.details_json = details_json;
  e.prev_hash = absl::HexStringToBytes(head[1].as<std::string>());
  e.hash = ChainHash(e.prev_hash, e);
  // The attacker's own key, under the broker key's id.
  std::unique_ptr<TokenSigner> own = TokenSigner::Generate();
  SealEvent(*own, e);
  e.key_id = TestSigner()->key_id();
  tx.exec_params0(
      "INSERT INTO audit_events (seq, approval_id, type, actor, occurred_at, "
      "details, prev_hash, hash, key_id, signature) VALUES ($1, $2::uuid, $3, "
      "$4, timestamptz 'epoch' + $5::bigint * interval '1 microsecond', $6, "
      "decode($7, 'hex'), decode($8, 'hex'), $9, decode($10, 'hex'))",
      e.seq, e.approval_id, std::string(EventTypeName(e.type)), e.actor,
      absl::ToUnixMicros(e.occurred_at), e.details_json,
      absl::BytesToHexString(e.prev_hash), absl::BytesToHexString(e.hash),
      e.key_id, absl::BytesToHexString(e.signature));
  tx.exec_params0(
      "UPDATE audit_chain_head SET last_seq = $1, last_hash = decode($2, "
      "'hex')",
      e.seq, absl::BytesToHexString(e.hash));
  return e.seq;
}

void FlipToApproved(pqxx::work& tx, const std::string& id) {
  tx.exec_params0(
      "UPDATE approvals SET state = 'approved', decided_at = now(), "
      "decided_by = 'alice' WHERE id = $1::uuid",
      id);
}

struct Verification {
  bool verified = false;
  std::string problems;  // all of them, one per line
};

// VerifyAuditLog as the admin `root`: the call's status, and its answer.
grpc::Status CallVerify(const BrokerHarness& h,
                        const v1::VerifyAuditLogRequest& req,
                        v1::VerifyAuditLogResponse* resp) {
  auto ctx = h.Context("root");
  return h.Stub()->VerifyAuditLog(ctx.get(), req, resp);
}

v1::VerifyAuditLogResponse MustVerify(
    const BrokerHarness& h,
    const v1::VerifyAuditLogRequest& req = v1::VerifyAuditLogRequest()) {
  v1::VerifyAuditLogResponse resp;
  REQUIRE(CallVerify(h, req, &resp).ok());
  return resp;
}

Verification VerifyAsAdmin(const BrokerHarness& h) {
  const v1::VerifyAuditLogResponse resp = MustVerify(h);
  Verification v;
  v.verified = resp.verified();
  for (const std::string& p : resp.problems())
    absl::StrAppend(&v.problems, p, "\n");
  return v;
}

// GetApproval as the requesting agent: the status, and the token if any.
grpc::Status GetAsAgent(const BrokerHarness& h, const std::string& id,
                        v1::Approval* out) {
  return h.Get("agent-1", id, out);
}

class Fixture {
 public:
  Fixture() : store_(db_.OpenAppStore()), broker_(*store_) {}

  std::string NewPending() {
    v1::RequestApprovalResponse resp;
    REQUIRE(broker_.Request("agent-1", ExportRequest(), &resp).ok());
    return resp.approval().id();
  }

  const TestDatabase& db() const { return db_; }
  PostgresStore& store() { return *store_; }
  const BrokerHarness& broker() const { return broker_; }

 private:
  TestDatabase db_;
  std::unique_ptr<PostgresStore> store_;
  BrokerHarness broker_;
};

TEST_CASE(
    "forgery with the app role: a pending approval's state flipped to "
    "approved gets no token and is named by verification",
    "[audit][forgery][postgres]") {
  Fixture f;
  const std::string id = f.NewPending();
  REQUIRE(VerifyAsAdmin(f.broker()).verified);
  {
    pqxx::connection attacker(f.db().app_url());
    pqxx::work tx(attacker);
    FlipToApproved(tx, id);
    tx.commit();
  }
  v1::Approval got;
  grpc::Status s = GetAsAgent(f.broker(), id, &got);
  CHECK(s.error_code() == grpc::StatusCode::DATA_LOSS);
  CHECK(s.error_message().find(id) != std::string::npos);
  CHECK(got.approval_token().empty());

  Verification v = VerifyAsAdmin(f.broker());
  CHECK_FALSE(v.verified);
  CHECK(v.problems.find(absl::StrCat("approval ", id)) != std::string::npos);
  CHECK(v.problems.find("state is \"approved\", the audit chain says "
                        "\"pending\"") != std::string::npos);
}

TEST_CASE(
    "forgery with the app role: a denied approval flipped to approved "
    "gets no token and is named by verification",
    "[audit][forgery][postgres]") {
  Fixture f;
  const std::string id = f.NewPending();
  v1::DecideResponse denied;
  REQUIRE(f.broker().Decide("alice", id, v1::DENY, &denied).ok());
  {
    pqxx::connection attacker(f.db().app_url());
    pqxx::work tx(attacker);
    FlipToApproved(tx, id);
    tx.commit();
  }
  v1::Approval got;
  CHECK(GetAsAgent(f.broker(), id, &got).error_code() ==
        grpc::StatusCode::DATA_LOSS);
  v1::ListApprovalsRequest list;
  v1::ListApprovalsResponse page;
  auto ctx = f.broker().Context("alice");
  CHECK(f.broker().Stub()->ListApprovals(ctx.get(), list, &page).error_code() ==
        grpc::StatusCode::DATA_LOSS);
  Verification v = VerifyAsAdmin(f.broker());
  CHECK_FALSE(v.verified);
  CHECK(v.problems.find("state is \"approved\", the audit chain says "
                        "\"denied\"") != std::string::npos);
}

TEST_CASE(
    "forgery with the app role: an approved event with a correct plain "
    "hash chain is named by verification and proves nothing",
    "[audit][forgery][postgres]") {
  Fixture f;
  const std::string id = f.NewPending();
  // The agent is already waiting for the outcome.
  auto ctx = f.broker().Context("agent-1");
  v1::StreamDecisionsRequest follow;
  follow.add_approval_ids(id);
  auto stream = f.broker().Stub()->StreamDecisions(ctx.get(), follow);
  stream->WaitForInitialMetadata();

  int64_t forged_seq = 0;
  {
    pqxx::connection attacker(f.db().app_url());
    pqxx::work tx(attacker);
    FlipToApproved(tx, id);
    forged_seq = ForgeEvent(
        tx, id, EventType::kApproved, "alice",
        R"({"approvals_required":1,"reviews":[{"reviewer":"alice","verdict":"approve"}],"rule":"default"})");
    tx.commit();
  }
  // The plain hash chain alone would accept it: only the seal gives it away.
  {
    AuditChainVerifier plain;  // no keyring: hashes only
    absl::StatusOr<std::vector<AuditEvent>> events =
        f.store().AuditEvents(0, 100);
    REQUIRE(events.ok());
    REQUIRE(events->size() == static_cast<size_t>(forged_seq));
    for (const AuditEvent& e : *events) CHECK(plain.Next(e).ok());
  }

  // The waiting agent is never told APPROVED: the stream ends instead.
  v1::DecisionEvent event;
  bool got_approved = false;
  while (stream->Read(&event)) {
    if (event.type() == v1::EVENT_APPROVED) got_approved = true;
  }
  grpc::Status finished = stream->Finish();
  CHECK_FALSE(got_approved);
  CHECK(finished.error_code() == grpc::StatusCode::DATA_LOSS);

  v1::Approval got;
  CHECK(GetAsAgent(f.broker(), id, &got).error_code() ==
        grpc::StatusCode::DATA_LOSS);
  Verification v = VerifyAsAdmin(f.broker());
  CHECK_FALSE(v.verified);
  CHECK(v.problems.find(absl::StrCat("audit event ", forged_seq,
                                     ": signature does not verify")) !=
        std::string::npos);
}

TEST_CASE(
    "forgery with the app role: a forged review plus approval gets no "
    "token and is named by verification",
    "[audit][forgery][postgres]") {
  Fixture f;
  const std::string id = f.NewPending();
  int64_t review_seq = 0;
  {
    pqxx::connection attacker(f.db().app_url());
    pqxx::work tx(attacker);
    review_seq = ForgeEvent(
        tx, id, EventType::kReviewed, "bob",
        R"({"approvals":1,"approvals_required":1,"comment":"","rule":"default","verdict":"approve"})");
    tx.exec_params0(
        "INSERT INTO reviews (approval_id, reviewer, verdict, comment, "
        "reviewed_at, audit_seq) VALUES ($1::uuid, 'bob', 'approve', '', "
        "now(), $2)",
        id, review_seq);
    FlipToApproved(tx, id);
    tx.commit();
  }
  v1::Approval got;
  grpc::Status s = GetAsAgent(f.broker(), id, &got);
  CHECK(s.error_code() == grpc::StatusCode::DATA_LOSS);
  CHECK(got.approval_token().empty());
  Verification v = VerifyAsAdmin(f.broker());
  CHECK_FALSE(v.verified);
  CHECK(v.problems.find(absl::StrCat("audit event ", review_seq,
                                     ": signature does not verify")) !=
        std::string::npos);
}

TEST_CASE(
    "forgery with the app role: an unsigned event is refused by the "
    "database itself",
    "[audit][forgery][postgres]") {
  Fixture f;
  const std::string id = f.NewPending();
  pqxx::connection attacker(f.db().app_url());
  pqxx::work tx(attacker);
  CHECK_THROWS_AS(
      tx.exec_params0(
          "INSERT INTO audit_events (seq, approval_id, type, actor, "
          "occurred_at, details, prev_hash, hash) SELECT last_seq + 1, "
          "$1::uuid, 'approved', 'alice', now(), '{}', last_hash, last_hash "
          "FROM audit_chain_head",
          id),
      pqxx::check_violation);
}

TEST_CASE(
    "a legitimately approved approval still gets its token after "
    "verification",
    "[audit][forgery][postgres]") {
  Fixture f;
  const std::string id = f.NewPending();
  v1::DecideResponse approved;
  REQUIRE(f.broker().Decide("alice", id, v1::APPROVE, &approved).ok());
  CHECK_FALSE(approved.approval().approval_token().empty());
  v1::Approval got;
  REQUIRE(GetAsAgent(f.broker(), id, &got).ok());
  CHECK(got.approval_token() == approved.approval().approval_token());
  Verification v = VerifyAsAdmin(f.broker());
  CHECK(v.verified);
  CHECK(v.problems.empty());
}

TEST_CASE("events cut off the end are found against a recorded head",
          "[audit][forgery][postgres]") {
  Fixture f;
  f.NewPending();
  const v1::VerifyAuditLogResponse first = MustVerify(f.broker());
  REQUIRE(first.verified());
  REQUIRE(first.head_seq() == 1);
  REQUIRE(first.head_hash().size() == 64);
  CHECK(first.head_key_id() == TestSigner()->key_id());
  const std::string second_id = f.NewPending();
  const v1::VerifyAuditLogResponse recorded = MustVerify(f.broker());
  REQUIRE(recorded.head_seq() == 2);

  // With the owner's rights: drop the last approval with its event and
  // rewind the head. What is left is a consistent, sealed, shorter log, so
  // only the head recorded outside the database can tell.
  f.db().TamperWithAuditLog(absl::StrCat(
      "DELETE FROM audit_events WHERE seq = 2; DELETE FROM approvals WHERE "
      "id = '",
      second_id,
      "'; UPDATE audit_chain_head SET last_seq = 1, last_hash = decode('",
      first.head_hash(), "', 'hex');"));
  const v1::VerifyAuditLogResponse plain = MustVerify(f.broker());
  CHECK(plain.verified());

  v1::VerifyAuditLogRequest against;
  against.set_expected_head_seq(recorded.head_seq());
  against.set_expected_head_hash(recorded.head_hash());
  const v1::VerifyAuditLogResponse checked = MustVerify(f.broker(), against);
  CHECK_FALSE(checked.verified());
  CHECK(checked.problem().find("audit event 2: missing: the recorded head") !=
        std::string::npos);

  v1::VerifyAuditLogRequest garbage;
  garbage.set_expected_head_seq(1);
  garbage.set_expected_head_hash("not hex");
  v1::VerifyAuditLogResponse refused;
  CHECK(CallVerify(f.broker(), garbage, &refused).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace approval::testing
