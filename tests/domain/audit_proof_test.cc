// Sealed audit events, approval proofs and the state replay: what the chain
// proves on its own, whatever the approvals and reviews rows say.
#include "server/domain/audit_proof.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "server/domain/audit_chain.h"
#include "server/domain/validation.h"
#include "server/store/memory_store.h"
#include "tests/support/audit_events.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/test_requests.h"

namespace approval {
namespace {

using testing::TestKeyring;
using testing::TestSigner;

std::vector<AuditEvent> SealedChain(int n, const TokenSigner& signer) {
  return testing::TestChain(n, &signer);
}

// Recomputes every hash from `from` (0-based) on, as someone holding the
// database but not the key would after changing an event.
void Rechain(std::vector<AuditEvent>& events, size_t from) {
  for (size_t i = from; i < events.size(); ++i) {
    events[i].prev_hash = i == 0 ? GenesisHash() : events[i - 1].hash;
    events[i].hash = ChainHash(events[i].prev_hash, events[i]);
  }
}

absl::Status VerifySealed(const std::vector<AuditEvent>& events,
                          const AuditKeyring& keys) {
  AuditChainVerifier v(&keys);
  for (const AuditEvent& e : events) {
    if (absl::Status s = v.Next(e); !s.ok()) return s;
  }
  return v.Finish();
}

TEST_CASE("a sealed chain verifies with the signer's key", "[audit][seal]") {
  CHECK(VerifySealed(SealedChain(5, *TestSigner()), TestKeyring()).ok());
}

TEST_CASE("an event changed and every hash recomputed is named by its seal",
          "[audit][seal]") {
  std::vector<AuditEvent> events = SealedChain(5, *TestSigner());
  events[1].actor = "mallory";
  Rechain(events, 1);
  AuditChainVerifier plain;  // the plain chain is fooled
  for (const AuditEvent& e : events) REQUIRE(plain.Next(e).ok());
  absl::Status s = VerifySealed(events, TestKeyring());
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(s.message()),
             Catch::StartsWith("audit event 2: signature does not verify"));
}

TEST_CASE("an event sealed by a key outside the keyring is named",
          "[audit][seal]") {
  std::unique_ptr<TokenSigner> other = TokenSigner::Generate();
  std::vector<AuditEvent> events = SealedChain(3, *TestSigner());
  SealEvent(*other, events[2]);
  absl::Status s = VerifySealed(events, TestKeyring());
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("audit event 3 is signed by key") &&
                 Catch::Contains("not a trusted audit key"));
}

TEST_CASE("a seal under the trusted key's id but by another key is named",
          "[audit][seal]") {
  std::unique_ptr<TokenSigner> other = TokenSigner::Generate();
  std::vector<AuditEvent> events = SealedChain(3, *TestSigner());
  SealEvent(*other, events[1]);
  events[1].key_id = TestSigner()->key_id();
  absl::Status s = VerifySealed(events, TestKeyring());
  CHECK_THAT(std::string(s.message()),
             Catch::StartsWith("audit event 2: signature does not verify"));
}

TEST_CASE("events from before signing are a prefix the first seal covers",
          "[audit][seal]") {
  std::vector<AuditEvent> events = SealedChain(4, *TestSigner());
  for (int i = 0; i < 2; ++i) {
    events[i].key_id.clear();
    events[i].signature.clear();
  }
  AuditChainVerifier v(&TestKeyring());
  for (const AuditEvent& e : events) REQUIRE(v.Next(e).ok());
  CHECK(v.Finish().ok());
  CHECK(v.unsigned_prefix() == 2);

  // Rewriting the unsigned prefix breaks the first seal after it.
  events[0].actor = "mallory";
  Rechain(events, 0);
  CHECK_THAT(std::string(VerifySealed(events, TestKeyring()).message()),
             Catch::StartsWith("audit event 3: signature does not verify"));
}

TEST_CASE("an unsigned event after a sealed one is named", "[audit][seal]") {
  std::vector<AuditEvent> events = SealedChain(3, *TestSigner());
  events[1].key_id.clear();
  events[1].signature.clear();
  CHECK_THAT(std::string(VerifySealed(events, TestKeyring()).message()),
             Catch::StartsWith("audit event 2 is not signed"));
}

TEST_CASE("a chain of only unsigned events does not verify with a keyring",
          "[audit][seal]") {
  std::vector<AuditEvent> events = SealedChain(2, *TestSigner());
  for (AuditEvent& e : events) {
    e.key_id.clear();
    e.signature.clear();
  }
  CHECK_THAT(std::string(VerifySealed(events, TestKeyring()).message()),
             Catch::Contains("the chain ends with unsigned events"));
}

TEST_CASE("a retired key in the keyring still verifies what it sealed",
          "[audit][seal]") {
  std::unique_ptr<TokenSigner> retired = TokenSigner::Generate();
  std::vector<AuditEvent> events = SealedChain(4, *retired);
  SealEvent(*TestSigner(), events[3]);
  CHECK_FALSE(VerifySealed(events, TestKeyring()).ok());
  AuditKeyring both = TestKeyring();
  REQUIRE(both.AddPublicKeyPem(retired->public_key_pem()).ok());
  CHECK(VerifySealed(events, both).ok());
}

TEST_CASE("the audit keyring takes only Ed25519 public keys", "[audit][seal]") {
  AuditKeyring keys;
  CHECK(keys.AddPublicKeyPem("not a key").code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(keys.empty());
}

TEST_CASE(
    "an audit seal never verifies as an approval token, nor the other "
    "way round",
    "[audit][seal]") {
  std::vector<AuditEvent> events = SealedChain(1, *TestSigner());
  CHECK_THAT(AuditSignedBytes(events[0].hash),
             Catch::StartsWith("approval-broker/audit/v1\n"));
  Ed25519PublicKey key =
      *Ed25519PublicKey::FromPem(TestSigner()->public_key_pem());
  CHECK(key.Verify(AuditSignedBytes(events[0].hash), events[0].signature));
  CHECK_FALSE(key.Verify(events[0].hash, events[0].signature));
}

RequestInput Export() {
  RequestInput in;
  in.action = "db.export";
  in.resource = "customers";
  in.parameters_json = R"({"rows":10})";
  in.justification = "quarterly report";
  return in;
}

// An approval decided through a MemoryStore sealed with the test key.
struct Decided {
  MemoryStore store{absl::Now, TestSigner()};
  Approval approval;
};

std::unique_ptr<Decided> ApproveBy(const std::vector<std::string>& reviewers,
                                   int approvals_required = 1) {
  auto d = std::make_unique<Decided>();
  Requirement requirement = OneApproval();
  requirement.approvals_required = approvals_required;
  absl::StatusOr<CreateResult> created = d->store.Create(
      *MakeNewApproval(Export(), "agent-1", Limits(), "", requirement));
  REQUIRE(created.ok());
  for (const std::string& r : reviewers) {
    DecideInput in;
    in.approval_id = created->approval.id;
    in.actor = r;
    REQUIRE(d->store.Decide(in).ok());
  }
  d->approval = *d->store.Get(created->approval.id);
  return d;
}

TEST_CASE("an approval proven by its sealed events gets its claims from them",
          "[audit][proof]") {
  std::unique_ptr<Decided> d = ApproveBy({"alice", "bob"}, 2);
  REQUIRE(d->approval.state == State::kApproved);
  absl::StatusOr<ApprovalClaims> c = ProveApproval(d->approval, TestKeyring());
  REQUIRE(c.ok());
  CHECK(c->approvers == std::vector<std::string>{"alice", "bob"});
  CHECK(c->action_digest == d->approval.action_digest);
  CHECK(c->approved_at == *d->approval.decided_at);
  CHECK(c->not_after ==
        c->approved_at + d->approval.requirement.execution_window);
}

TEST_CASE("a row that says approved proves nothing without its events",
          "[audit][proof]") {
  std::unique_ptr<Decided> d = ApproveBy({"alice"});
  Approval row = d->approval;
  row.evidence.clear();
  absl::Status s = ProveApproval(row, TestKeyring()).status();
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(s.message()),
             Catch::Contains(row.id) && Catch::Contains("no signed"));
}

TEST_CASE("a proof needs each approver's own sealed review", "[audit][proof]") {
  std::unique_ptr<Decided> d = ApproveBy({"alice"});
  Approval row = d->approval;
  std::vector<AuditEvent> without_review;
  for (const AuditEvent& e : row.evidence) {
    if (e.type != EventType::kReviewed) without_review.push_back(e);
  }
  row.evidence = without_review;
  CHECK_THAT(std::string(ProveApproval(row, TestKeyring()).status().message()),
             Catch::Contains("no signed approve review by alice"));
}

TEST_CASE("a proof fails when an evidence event was altered",
          "[audit][proof]") {
  std::unique_ptr<Decided> d = ApproveBy({"alice"});
  Approval row = d->approval;
  for (AuditEvent& e : row.evidence) {
    if (e.type == EventType::kCreated) {
      e.details_json = R"({"action":"db.drop"})";
    }
  }
  CHECK_THAT(std::string(ProveApproval(row, TestKeyring()).status().message()),
             Catch::Contains("does not match its hash"));
}

TEST_CASE("a proof fails when the approval was sealed by an untrusted key",
          "[audit][proof]") {
  std::unique_ptr<Decided> d = ApproveBy({"alice"});
  AuditKeyring stranger;
  REQUIRE(
      stranger.AddPublicKeyPem(TokenSigner::Generate()->public_key_pem()).ok());
  CHECK(ProveApproval(d->approval, stranger).status().code() ==
        absl::StatusCode::kDataLoss);
}

TEST_CASE("an auto-approved request is proven with no approvers",
          "[audit][proof]") {
  MemoryStore store(absl::Now, TestSigner());
  Requirement requirement = OneApproval();
  requirement.outcome = Outcome::kAutoApprove;
  absl::StatusOr<CreateResult> created = store.Create(
      *MakeNewApproval(Export(), "agent-1", Limits(), "", requirement));
  REQUIRE(created.ok());
  REQUIRE(created->approval.state == State::kApproved);
  absl::StatusOr<ApprovalClaims> c =
      ProveApproval(created->approval, TestKeyring());
  REQUIRE(c.ok());
  CHECK(c->approvers.empty());
}

std::vector<AuditEvent> AllEvents(MemoryStore& store) {
  absl::StatusOr<std::vector<AuditEvent>> events = store.AuditEvents(0, 1000);
  REQUIRE(events.ok());
  return *events;
}

TEST_CASE("the replayed chain matches every row the store wrote",
          "[audit][replay]") {
  std::unique_ptr<Decided> d = ApproveBy({"alice"});
  AuditReplay replay;
  for (const AuditEvent& e : AllEvents(d->store)) replay.Apply(e);
  replay.Check(d->approval);
  replay.CheckNoneMissing();
  CHECK(replay.problems().empty());
  CHECK(replay.approvals_checked() == 1);
}

TEST_CASE("the replay names each field a row changed behind the chain",
          "[audit][replay]") {
  std::unique_ptr<Decided> d = ApproveBy({"alice"});
  Approval row = d->approval;
  row.state = State::kDenied;
  row.decided_by = "mallory";
  row.reviews.push_back(
      Review{"bob", Verdict::kApprove, "", absl::Now(), "", ""});
  AuditReplay replay;
  for (const AuditEvent& e : AllEvents(d->store)) replay.Apply(e);
  replay.Check(row);
  REQUIRE(replay.problems().size() == 1);
  const std::string& p = replay.problems()[0];
  CHECK_THAT(p, Catch::StartsWith("approval " + row.id));
  CHECK_THAT(p, Catch::Contains("state is \"denied\", the audit chain says "
                                "\"approved\""));
  CHECK_THAT(p, Catch::Contains("decided_by is \"mallory\""));
  CHECK_THAT(p, Catch::Contains("reviews is"));
}

TEST_CASE("the replay names a row no event created", "[audit][replay]") {
  std::unique_ptr<Decided> d = ApproveBy({"alice"});
  Approval stranger = d->approval;
  stranger.id = NewUuid();
  AuditReplay replay;
  for (const AuditEvent& e : AllEvents(d->store)) replay.Apply(e);
  replay.Check(stranger);
  replay.CheckNoneMissing();
  REQUIRE(replay.problems().size() == 2);
  CHECK_THAT(replay.problems()[0],
             Catch::Contains("no audit event records its creation"));
  CHECK_THAT(replay.problems()[1],
             Catch::Contains("missing from the approvals table"));
}

}  // namespace
}  // namespace approval
