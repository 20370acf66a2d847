// Quorum rules (server/domain/review_rules.h): who may review, who counts, when
// an approval ends.
#include <catch2/catch.hpp>

#include "server/domain/refusal_reason.h"
#include "server/domain/review_rules.h"

namespace approval {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

Approval Pending(int required, std::vector<std::string> groups,
                 bool deny_ends = true) {
  Approval a;
  a.id = "0b7d6e52-3f0a-4c8e-9a51-6f1e2d3c4b5a";
  a.requester = "agent-1";
  a.on_behalf_of = "dave";
  a.created_at = kNow - absl::Minutes(1);
  a.expires_at = kNow + absl::Hours(1);
  a.requirement.rule = "customer-export";
  a.requirement.reviewer_groups = std::move(groups);
  a.requirement.approvals_required = required;
  a.requirement.deny_ends = deny_ends;
  return a;
}

void Add(Approval& a, const std::string& who, Verdict v = Verdict::kApprove) {
  a.reviews.push_back(Review{who, v, "", kNow, "", ""});
}

TEST_CASE("a member of any of the rule's groups may review", "[quorum]") {
  Approval a = Pending(2, {"data-team", "security"});
  CHECK(CheckReview(a, "alice", {"security"}, kNow).ok());
  CHECK(CheckReview(a, "alice", {"marketing", "data-team"}, kNow).ok());
}

TEST_CASE("a reviewer outside the rule's groups is refused", "[quorum]") {
  Approval a = Pending(2, {"data-team", "security"});
  absl::Status s = CheckReview(a, "mallory", {"marketing"}, kNow);
  CHECK(s.code() == absl::StatusCode::kPermissionDenied);
  CHECK(RefusalReason(s) == "not_in_reviewer_groups");
  CHECK_THAT(std::string(s.message()), Catch::Contains("data-team"));
  CHECK(CheckReview(a, "mallory", {}, kNow).code() ==
        absl::StatusCode::kPermissionDenied);
}

TEST_CASE("a rule without groups lets any reviewer review", "[quorum]") {
  CHECK(CheckReview(Pending(1, {}), "alice", {}, kNow).ok());
}

TEST_CASE(
    "the requester and the human behind it never review, even in the "
    "groups",
    "[quorum]") {
  Approval a = Pending(1, {"data-team"});
  CHECK(RefusalReason(CheckReview(a, "agent-1", {"data-team"}, kNow)) ==
        "self_approval");
  CHECK(RefusalReason(CheckReview(a, "dave", {"data-team"}, kNow)) ==
        "on_behalf_of_self_approval");
}

TEST_CASE("the same person reviewing twice gets ALREADY_EXISTS", "[quorum]") {
  Approval a = Pending(2, {"data-team", "security"});
  Add(a, "alice");
  CHECK(CheckReview(a, "alice", {"data-team", "security"}, kNow).code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(CheckReview(a, "bob", {"security"}, kNow).ok());
}

TEST_CASE("terminal and expired approvals take no reviews", "[quorum]") {
  Approval a = Pending(1, {});
  a.state = State::kApproved;
  CHECK(CheckReview(a, "bob", {}, kNow).code() ==
        absl::StatusCode::kFailedPrecondition);
  Approval late = Pending(1, {});
  CHECK(CheckReview(late, "bob", {}, late.expires_at).code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("approval needs the required number of distinct approvers",
          "[quorum]") {
  Approval a = Pending(2, {"data-team", "security"});
  CHECK_FALSE(QuorumOutcome(a).has_value());
  CHECK(ApprovalsMissing(a) == 2);
  Add(a, "alice");
  CHECK_FALSE(QuorumOutcome(a).has_value());
  CHECK(ApprovalsMissing(a) == 1);
  Add(a, "bob");
  CHECK(QuorumOutcome(a) == State::kApproved);
  CHECK(ApproversOf(a) == std::vector<std::string>{"alice", "bob"});
}

TEST_CASE("one deny ends the approval when deny_ends", "[quorum]") {
  Approval a = Pending(2, {"data-team"});
  Add(a, "alice");
  Add(a, "bob", Verdict::kDeny);
  CHECK(QuorumOutcome(a) == State::kDenied);
}

TEST_CASE("without deny_ends a deny is recorded and approvals still count",
          "[quorum]") {
  Approval a = Pending(2, {"data-team"}, /*deny_ends=*/false);
  Add(a, "bob", Verdict::kDeny);
  CHECK_FALSE(QuorumOutcome(a).has_value());
  CHECK(ApprovalsMissing(a) == 2);
  Add(a, "alice");
  Add(a, "carol");
  CHECK(QuorumOutcome(a) == State::kApproved);
  CHECK(ApproversOf(a) == std::vector<std::string>{"alice", "carol"});
}

TEST_CASE("a terminal approval misses nothing", "[quorum]") {
  Approval a = Pending(3, {});
  a.state = State::kDenied;
  CHECK(ApprovalsMissing(a) == 0);
}

}  // namespace
}  // namespace approval
