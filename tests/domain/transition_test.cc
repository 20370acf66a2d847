// The domain's transition plans (server/domain/transition.h): what each
// write does, decided before any store applies it.
#include "server/domain/transition.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/domain/validation.h"
#include "tests/support/test_requests.h"

namespace approval {
namespace {

const absl::Time kNow = absl::FromUnixMicros(1'700'000'000'123'456);
constexpr char kId[] = "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5";

NewApproval Request(Requirement requirement = OneApproval()) {
  RequestInput in;
  in.action = "db.export";
  in.resource = "postgres://prod/customers";
  in.justification = "quarterly report";
  in.ttl = absl::Minutes(10);
  absl::StatusOr<NewApproval> req =
      MakeNewApproval(in, "agent-1", Limits(), "", std::move(requirement));
  REQUIRE(req.ok());
  return *req;
}

Approval Pending(Requirement requirement = OneApproval()) {
  return PlanCreate(Request(std::move(requirement)), kId, kNow).after;
}

std::vector<EventType> Types(const Transition& t) {
  std::vector<EventType> out;
  for (const PlannedEvent& e : t.events) out.push_back(e.type);
  return out;
}

DecideInput Review(std::string actor, Verdict v = Verdict::kApprove) {
  DecideInput in;
  in.approval_id = kId;
  in.actor = std::move(actor);
  in.verdict = v;
  in.comment = "looked at it";
  return in;
}

TEST_CASE("PlanCreate: a pending approval, expiring ttl after now, one event",
          "[transition]") {
  Transition t = PlanCreate(Request(), kId, kNow + absl::Nanoseconds(999));
  REQUIRE_FALSE(t.refused());
  CHECK(t.after.id == kId);
  CHECK(t.after.state == State::kPending);
  CHECK(t.after.created_at == kNow);  // truncated to microseconds
  CHECK(t.after.expires_at == kNow + absl::Minutes(10));
  CHECK_FALSE(t.finishes);
  CHECK(Types(t) == std::vector<EventType>{EventType::kCreated});
  CHECK(t.events[0].actor == "agent-1");
}

TEST_CASE("PlanCreate: an automatic outcome decides in the same write",
          "[transition]") {
  Requirement auto_approve = OneApproval();
  auto_approve.outcome = Outcome::kAutoApprove;
  Transition t = PlanCreate(Request(auto_approve), kId, kNow);
  CHECK(t.after.state == State::kApproved);
  CHECK(t.after.decided_by == kPolicyActor);
  CHECK(t.after.decided_at == kNow);
  CHECK(t.finishes);
  CHECK(Types(t) ==
        std::vector<EventType>{EventType::kCreated, EventType::kApproved});

  Requirement auto_deny = OneApproval();
  auto_deny.outcome = Outcome::kAutoDeny;
  CHECK(Types(PlanCreate(Request(auto_deny), kId, kNow)) ==
        std::vector<EventType>{EventType::kCreated, EventType::kDenied});
}

TEST_CASE("CheckIdempotentRepeat: the same request is a repeat, another is not",
          "[transition]") {
  Approval existing = Pending();
  CHECK(CheckIdempotentRepeat(existing, Request()).ok());
  NewApproval other = Request();
  other.request_fingerprint = "different";
  absl::Status s = CheckIdempotentRepeat(existing, other);
  CHECK(s.code() == absl::StatusCode::kAlreadyExists);
  CHECK_THAT(std::string(s.message()), Catch::Contains(kId));
}

TEST_CASE("PlanReview: self-approval is refused with one audited event",
          "[transition]") {
  Approval a = Pending();
  Transition t = PlanReview(a, Review("agent-1"), kNow);
  CHECK(t.refusal.code() == absl::StatusCode::kPermissionDenied);
  CHECK(Types(t) == std::vector<EventType>{EventType::kDecisionRefused});
  CHECK_FALSE(t.review.has_value());
  CHECK(t.after.reviews.empty());
  CHECK(t.after.state == State::kPending);
}

TEST_CASE("PlanReview: a second review by the same person is refused, audited",
          "[transition]") {
  Requirement two = OneApproval();
  two.approvals_required = 2;
  Approval a = PlanReview(Pending(two), Review("alice"), kNow).after;
  Transition t = PlanReview(a, Review("alice"), kNow);
  CHECK(t.refusal.code() == absl::StatusCode::kAlreadyExists);
  CHECK(Types(t) == std::vector<EventType>{EventType::kDecisionRefused});
  CHECK(t.after.reviews.size() == 1);
}

TEST_CASE(
    "PlanReview: a terminal or expired approval is refused, nothing "
    "written",
    "[transition]") {
  Approval a = Pending();
  Transition late = PlanReview(a, Review("alice"), a.expires_at);
  CHECK(late.refusal.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(late.events.empty());

  Approval done = PlanReview(a, Review("alice"), kNow).after;
  REQUIRE(done.state == State::kApproved);
  Transition again = PlanReview(done, Review("bob"), kNow);
  CHECK(again.refusal.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(again.events.empty());
}

TEST_CASE("PlanReview: the review that completes the quorum decides",
          "[transition]") {
  Requirement two = OneApproval();
  two.approvals_required = 2;
  Transition first = PlanReview(Pending(two), Review("alice"), kNow);
  REQUIRE_FALSE(first.refused());
  CHECK(Types(first) == std::vector<EventType>{EventType::kReviewed});
  CHECK_FALSE(first.finishes);
  REQUIRE(first.review.has_value());
  CHECK(first.review->reviewer == "alice");
  CHECK(first.after.state == State::kPending);

  Transition second =
      PlanReview(first.after, Review("bob"), kNow + absl::Seconds(1));
  CHECK(Types(second) ==
        std::vector<EventType>{EventType::kReviewed, EventType::kApproved});
  CHECK(second.finishes);
  CHECK(second.after.state == State::kApproved);
  CHECK(second.after.decided_by == "bob");
  CHECK(second.after.decision_comment == "looked at it");
  CHECK(second.after.reviews.size() == 2);
}

TEST_CASE("PlanReview: a deny ends the approval when the rule says so",
          "[transition]") {
  Requirement two = OneApproval();
  two.approvals_required = 2;
  Transition t =
      PlanReview(Pending(two), Review("alice", Verdict::kDeny), kNow);
  CHECK(Types(t) ==
        std::vector<EventType>{EventType::kReviewed, EventType::kDenied});
  CHECK(t.after.state == State::kDenied);

  two.deny_ends = false;
  Transition kept =
      PlanReview(Pending(two), Review("alice", Verdict::kDeny), kNow);
  CHECK(Types(kept) == std::vector<EventType>{EventType::kReviewed});
  CHECK(kept.after.state == State::kPending);
}

TEST_CASE("PlanCancel: only the requester, only while pending",
          "[transition]") {
  Approval a = Pending();
  Transition other = PlanCancel(a, "alice", "no", kNow);
  CHECK(other.refusal.code() == absl::StatusCode::kPermissionDenied);
  CHECK(other.events.empty());

  Transition t = PlanCancel(a, "agent-1", "not needed", kNow);
  REQUIRE_FALSE(t.refused());
  CHECK(Types(t) == std::vector<EventType>{EventType::kCancelled});
  CHECK(t.after.state == State::kCancelled);
  CHECK(t.after.decision_comment == "not needed");
  CHECK(t.finishes);

  CHECK(PlanCancel(t.after, "agent-1", "again", kNow).refusal.code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("PlanExpire: only a pending approval whose expiry has passed",
          "[transition]") {
  Approval a = Pending();
  CHECK(PlanExpire(a, a.expires_at - absl::Microseconds(1)).refused());
  Transition t = PlanExpire(a, a.expires_at);
  REQUIRE_FALSE(t.refused());
  CHECK(Types(t) == std::vector<EventType>{EventType::kExpired});
  CHECK(t.events[0].actor == kSystemActor);
  CHECK(t.after.state == State::kExpired);
  CHECK(t.after.decided_by.empty());
  CHECK(PlanExpire(t.after, a.expires_at).refused());
}

}  // namespace
}  // namespace approval

namespace approval {
namespace {

DecideInput Relayed(std::string actor) {
  DecideInput in = Review(std::move(actor));
  in.relay = "token:slack-bot";
  in.platform_user = "slack:T0123/UALICE";
  return in;
}

TEST_CASE("PlanReview: a relayed review records relay and platform user",
          "[transition][relay]") {
  Transition t = PlanReview(Pending(), Relayed("alice"), kNow);
  REQUIRE_FALSE(t.refused());
  REQUIRE(t.review.has_value());
  CHECK(t.review->reviewer == "alice");
  CHECK(t.review->relay == "token:slack-bot");
  CHECK(t.review->platform_user == "slack:T0123/UALICE");
  REQUIRE_FALSE(t.events.empty());
  CHECK(t.events[0].actor == "alice");
  CHECK(t.events[0].details_json.find("\"relay\":\"token:slack-bot\"") !=
        std::string::npos);
}

TEST_CASE("PlanReview: a direct review's details carry no relay keys",
          "[transition][relay]") {
  Transition t = PlanReview(Pending(), Review("alice"), kNow);
  REQUIRE_FALSE(t.events.empty());
  CHECK(t.events[0].details_json.find("relay") == std::string::npos);
}

TEST_CASE(
    "PlanReview: a relay on a rule refusing relays is an audited "
    "refusal (relay_not_allowed)",
    "[transition][relay]") {
  const Approval a = Pending();
  DecideInput in = Relayed("alice");
  in.rules_refusing_relays = {a.requirement.rule};
  Transition t = PlanReview(a, in, kNow);
  CHECK(t.refusal.code() == absl::StatusCode::kPermissionDenied);
  CHECK(Types(t) == std::vector<EventType>{EventType::kDecisionRefused});
  CHECK(t.after.reviews.empty());
  CHECK_FALSE(t.review.has_value());
}

TEST_CASE("PlanReview: relays_allowed false does not touch direct reviews",
          "[transition][relay]") {
  const Approval a = Pending();
  DecideInput in = Review("alice");
  in.rules_refusing_relays = {a.requirement.rule};
  CHECK_FALSE(PlanReview(a, in, kNow).refused());
}

Requirement Escalating() {
  Requirement r = OneApproval();
  r.reviewer_groups = {"dba"};
  r.escalate_after = absl::Minutes(5);
  r.escalate_to = {"security"};
  return r;
}

TEST_CASE("PlanEscalate: only a pending approval past escalate_after, once",
          "[transition][escalation]") {
  const Approval a = Pending(Escalating());
  REQUIRE(EscalatesAt(a) == kNow + absl::Minutes(5));

  Transition early =
      PlanEscalate(a, kNow + absl::Minutes(5) - absl::Seconds(1));
  CHECK(early.refusal.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(early.events.empty());

  Transition t = PlanEscalate(a, kNow + absl::Minutes(5));
  REQUIRE_FALSE(t.refused());
  CHECK(Types(t) == std::vector<EventType>{EventType::kEscalated});
  CHECK(t.events[0].actor == kSystemActor);
  CHECK(t.events[0].details_json.find("\"escalate_to\":[\"security\"]") !=
        std::string::npos);
  CHECK(t.after.state == State::kPending);
  CHECK_FALSE(t.finishes);
  CHECK(t.after.escalated_at == kNow + absl::Minutes(5));

  // Once escalated, never again.
  CHECK(PlanEscalate(t.after, kNow + absl::Minutes(6)).refusal.code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE(
    "PlanEscalate: never for a rule without escalation, a decided or "
    "an expired approval",
    "[transition][escalation]") {
  CHECK(EscalatesAt(Pending()) == std::nullopt);
  CHECK(PlanEscalate(Pending(), kNow + absl::Hours(1)).refused());

  Approval decided = Pending(Escalating());
  decided.state = State::kDenied;
  CHECK(PlanEscalate(decided, kNow + absl::Minutes(6)).refused());

  // Expiry (10 minutes) comes first: past it, no escalation, even before
  // the sweep has expired the row.
  Approval long_escalation = Pending([] {
    Requirement r = Escalating();
    r.escalate_after = absl::Minutes(20);
    return r;
  }());
  CHECK(PlanEscalate(long_escalation, kNow + absl::Minutes(25)).refused());
  CHECK(
      PlanEscalate(Pending(Escalating()), kNow + absl::Minutes(10)).refused());
}

TEST_CASE(
    "PlanReview: an escalate_to member is refused before escalation and "
    "counts toward the quorum after",
    "[transition][escalation]") {
  Approval a = Pending(Escalating());
  DecideInput carol = Review("carol");
  carol.actor_groups = {"security"};

  Transition before = PlanReview(a, carol, kNow + absl::Minutes(1));
  CHECK(before.refusal.code() == absl::StatusCode::kPermissionDenied);
  CHECK(before.refusal.message().find("escalates to [security]") !=
        std::string::npos);
  CHECK(Types(before) == std::vector<EventType>{EventType::kDecisionRefused});

  Transition escalated = PlanEscalate(a, kNow + absl::Minutes(5));
  REQUIRE_FALSE(escalated.refused());
  Transition after =
      PlanReview(escalated.after, carol, kNow + absl::Minutes(6));
  REQUIRE_FALSE(after.refused());
  CHECK(after.after.state == State::kApproved);
  CHECK(after.after.decided_by == "carol");

  // Someone in neither group is still refused after escalation.
  DecideInput dave = Review("dave");
  dave.actor_groups = {"interns"};
  CHECK(PlanReview(escalated.after, dave, kNow + absl::Minutes(6))
            .refusal.code() == absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace approval
