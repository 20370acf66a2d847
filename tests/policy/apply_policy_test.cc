// ApplyPolicy (server/policy/active_policy.h): the rule that matched, its
// justification and TTL rules, and masking, applied to a validated request.
#include <catch2/catch.hpp>

#include "server/policy/active_policy.h"
#include "wire/canonical.h"

namespace approval {
namespace {

ActivePolicy MakeActive(std::vector<PolicyRule> rules) {
  ActivePolicy active;
  active.policy.rules = std::move(rules);
  active.policy.groups = {{"data-team", {"alice", "bob"}}};
  active.masker = *Masker::Create(MaskingOptions(),
                                  std::string(kMinFingerprintKeyBytes, 'k'));
  active.source = "test";
  return active;
}

PolicyRule ExportRule() {
  PolicyRule r;
  r.name = "customer-export";
  r.action = "db.export";
  r.resource = "postgres://prod/*";
  r.reviewer_groups = {"data-team"};
  r.approvals_required = 2;
  r.justification_required = true;
  r.justification_min_length = 10;
  r.default_ttl = absl::Minutes(30);
  r.max_ttl = absl::Hours(2);
  r.execution_window = absl::Minutes(15);
  return r;
}

ValidRequest Request(std::string justification = "quarterly churn report",
                     std::optional<absl::Duration> ttl = std::nullopt) {
  RequestInput in;
  in.action = "db.export";
  in.resource = "postgres://prod/customers";
  in.parameters_json = R"({"rows":[{"email":"jane.doe@example.com"}]})";
  in.justification = std::move(justification);
  in.ttl = ttl;
  absl::StatusOr<ValidRequest> v = ValidateRequest(in, "agent-1", Limits());
  REQUIRE(v.ok());
  return *v;
}

TEST_CASE("the matching rule's requirement and TTL are applied", "[apply]") {
  ActivePolicy active = MakeActive({ExportRule()});
  absl::StatusOr<NewApproval> a = ApplyPolicy(Request(), active, Limits());
  REQUIRE(a.ok());
  CHECK(a->requirement.rule == "customer-export");
  CHECK(a->requirement.outcome == Outcome::kRequireApproval);
  CHECK(a->requirement.approvals_required == 2);
  CHECK(a->requirement.reviewer_groups ==
        std::vector<std::string>{"data-team"});
  CHECK(a->requirement.execution_window == absl::Minutes(15));
  CHECK(a->ttl == absl::Minutes(30));
}

TEST_CASE("the stored request is masked but its digest binds the raw values",
          "[apply]") {
  ActivePolicy active = MakeActive({ExportRule()});
  ValidRequest v = Request();
  absl::StatusOr<NewApproval> a = ApplyPolicy(v, active, Limits());
  REQUIRE(a.ok());
  CHECK(a->parameters_preview.find("jane.doe@example.com") ==
        std::string::npos);
  CHECK_THAT(a->parameters_preview, Catch::Contains("<masked:email:"));
  CHECK(a->action_digest ==
        ActionDigest(v.action, v.resource, v.canonical_parameters));
}

TEST_CASE("a missing justification names the rule", "[apply]") {
  ActivePolicy active = MakeActive({ExportRule()});
  absl::Status s = ApplyPolicy(Request(""), active, Limits()).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Catch::StartsWith("justification:") &&
                                           Catch::Contains("customer-export"));
}

TEST_CASE("a justification below the minimum length names rule and length",
          "[apply]") {
  ActivePolicy active = MakeActive({ExportRule()});
  // Nine characters, one of them two bytes long: code points count.
  absl::Status s =
      ApplyPolicy(Request("r\xc3\xa9port 24"), active, Limits()).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Catch::Contains("9 characters") &&
                                           Catch::Contains("customer-export") &&
                                           Catch::Contains("at least 10"));
  CHECK(ApplyPolicy(Request("r\xc3\xa9port 245"), active, Limits()).ok());
}

TEST_CASE("a ttl above the rule's max_ttl is refused", "[apply]") {
  ActivePolicy active = MakeActive({ExportRule()});
  absl::Status s =
      ApplyPolicy(Request("quarterly churn report", absl::Hours(3)), active,
                  Limits())
          .status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()),
             Catch::StartsWith("ttl:") && Catch::Contains("customer-export"));
  absl::StatusOr<NewApproval> ok = ApplyPolicy(
      Request("quarterly churn report", absl::Hours(2)), active, Limits());
  REQUIRE(ok.ok());
  CHECK(ok->ttl == absl::Hours(2));
}

TEST_CASE("a request no rule matches is denied by the implicit rule",
          "[apply]") {
  PolicyRule other = ExportRule();
  other.action = "iam.*";
  ActivePolicy active = MakeActive({other});
  absl::StatusOr<NewApproval> a = ApplyPolicy(Request(), active, Limits());
  REQUIRE(a.ok());
  CHECK(a->requirement.rule == kNoRuleMatched);
  CHECK(a->requirement.outcome == Outcome::kAutoDeny);
}

TEST_CASE("ApplyPolicy: the first matching rule wins", "[apply]") {
  PolicyRule read_only;
  read_only.name = "everything-else";
  read_only.action = "*";
  read_only.outcome = Outcome::kAutoApprove;
  ActivePolicy first_export = MakeActive({ExportRule(), read_only});
  CHECK(ApplyPolicy(Request(), first_export, Limits())->requirement.rule ==
        "customer-export");
  ActivePolicy first_catch_all = MakeActive({read_only, ExportRule()});
  absl::StatusOr<NewApproval> a =
      ApplyPolicy(Request(""), first_catch_all, Limits());
  REQUIRE(a.ok());
  CHECK(a->requirement.rule == "everything-else");
  CHECK(a->requirement.outcome == Outcome::kAutoApprove);
}

}  // namespace
}  // namespace approval
