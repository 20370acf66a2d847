// Review policy (server/policy/policy.h): parsing and validating policy
// files, rule matching, globs, group membership.
#include "server/policy/policy.h"

#include <catch2/catch.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace approval {
namespace {

const Limits kLimits;  // default_ttl 1h, min_ttl 1s, max_ttl 168h

absl::StatusOr<Policy> Parse(const std::string& text) {
  return ParsePolicy(text, "policy.json", kLimits);
}

// The error message of parsing `text`; "" when it parsed. Every error is
// INVALID_ARGUMENT prefixed with the source.
std::string ErrorOf(const std::string& text) {
  absl::StatusOr<Policy> p = Parse(text);
  if (p.ok()) return "";
  CHECK(p.status().code() == absl::StatusCode::kInvalidArgument);
  const std::string message(p.status().message());
  CHECK(absl::StartsWith(message, "policy.json: "));
  return message;
}

bool Contains(const std::string& haystack, absl::string_view needle) {
  return absl::StrContains(haystack, needle);
}

// A policy with groups a:[alice,bob], b:[bob] and one rule "r" whose other
// fields are `fields` (a JSON fragment, possibly empty).
std::string WithRule(const std::string& fields) {
  return absl::StrCat(
      R"({"groups": {"a": ["alice", "bob"], "b": ["bob"]},
          "rules": [{"name": "r", "action": "x")",
      fields.empty() ? "" : ", ", fields, "}]}");
}

TEST_CASE("the example policy in deploy/ parses", "[policy]") {
  absl::StatusOr<Policy> p = LoadPolicyFile(
      APPROVAL_SOURCE_DIR "/deploy/policy.example.jsonc", kLimits);
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  REQUIRE(p->rules.size() >= 4);
  const PolicyRule& first = p->rules.front();
  CHECK(first.name == "customer-export");
  CHECK(first.reviewer_groups ==
        std::vector<std::string>{"data-team", "security"});
  CHECK(first.approvals_required == 2);
  CHECK(first.justification_required);
  CHECK(first.justification_min_length == 20);
  CHECK(first.default_ttl == absl::Minutes(30));
  CHECK(first.max_ttl == absl::Hours(2));
  CHECK(first.execution_window == absl::Minutes(15));
  CHECK(p->rules.back().action == "*");
  CHECK(p->groups.at("security").count("bob") == 1);
  CHECK(p->masking.detectors == AllDetectors());
  REQUIRE(!p->masking.paths.empty());
  CHECK(p->masking.paths[0].path == "$.rows[*].email");

  // Spot-check the example's documented behaviour.
  const PolicyRule* r = p->Match("db.destroy", "postgres://prod/x", "alice");
  REQUIRE(r != nullptr);
  CHECK(r->outcome == Outcome::kAutoDeny);
  r = p->Match("iam.grant", "role/admin", "agent");
  REQUIRE(r != nullptr);
  CHECK(r->reviewer_groups == std::vector<std::string>{"security"});
  r = p->Match("something.else", "", "anyone");
  REQUIRE(r != nullptr);
  CHECK(r->name == "catch-all");
}

TEST_CASE("a full rule parses with every field", "[policy]") {
  absl::StatusOr<Policy> p = Parse(R"(
    // comments are allowed
    {
      "groups": {"data-team": ["alice", "bob"], "security": ["carol"]},
      "rules": [{
        "name": "customer-export",
        "action": "db.export",
        "resource": "postgres://prod/*",
        "requester": "agent-*",
        "outcome": "require_approval",
        "reviewer_groups": ["data-team", "security"],
        "approvals_required": 3,
        "deny_ends": false,
        "justification_min_length": 5,  /* implies required */
        "default_ttl": "30m",
        "max_ttl": "2h",
        "execution_window": "15m"
      }],
      "masking": {
        "paths": [{"path": "$.rows[*].email", "label": "email"},
                  {"path": "$.ssn"}],
        "detectors": ["iban", "email"]
      }
    })");
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  REQUIRE(p->rules.size() == 1);
  const PolicyRule& r = p->rules[0];
  CHECK(r.resource == "postgres://prod/*");
  CHECK(r.requester == "agent-*");
  CHECK(r.approvals_required == 3);
  CHECK_FALSE(r.deny_ends);
  CHECK(r.justification_required);
  CHECK(r.justification_min_length == 5);
  CHECK(r.default_ttl == absl::Minutes(30));
  CHECK(r.max_ttl == absl::Hours(2));
  CHECK(r.execution_window == absl::Minutes(15));
  REQUIRE(p->masking.paths.size() == 2);
  CHECK(p->masking.paths[0].label == "email");
  CHECK(p->masking.paths[1].label == "redacted");
  CHECK(p->masking.detectors ==
        std::vector<Detector>{Detector::kIban, Detector::kEmail});
}

TEST_CASE("defaults of an omitted field", "[policy]") {
  absl::StatusOr<Policy> p = Parse(R"({"rules": [{"name": "r",
                                                   "action": "x"}]})");
  REQUIRE(p.ok());
  const PolicyRule& r = p->rules[0];
  CHECK(r.resource == "*");
  CHECK(r.requester == "*");
  CHECK(r.outcome == Outcome::kRequireApproval);
  CHECK(r.reviewer_groups.empty());
  CHECK(r.approvals_required == 1);
  CHECK(r.deny_ends);
  CHECK_FALSE(r.justification_required);
  CHECK(r.justification_min_length == 0);
  CHECK_FALSE(r.default_ttl.has_value());
  CHECK_FALSE(r.max_ttl.has_value());
  CHECK(r.execution_window == absl::Hours(1));
  CHECK(p->groups.empty());
  CHECK(p->masking.paths.empty());
  CHECK(p->masking.detectors == AllDetectors());
}

TEST_CASE("every rule error names the rule and the field", "[policy]") {
  struct Case {
    const char* fields;  // after "name": "r", "action": "x"
    const char* field;   // the field the message must name
  };
  const std::vector<Case> cases = {
      {R"("resource": "")", "resource"},
      {R"("resource": 5)", "resource"},
      {R"("requester": "")", "requester"},
      {R"("requester": null)", "requester"},
      {R"("outcome": "maybe")", "outcome"},
      {R"("outcome": true)", "outcome"},
      {R"("reviewer_groups": ["nope"])", "reviewer_groups"},
      {R"("reviewer_groups": ["a", "a"])", "reviewer_groups"},
      {R"("reviewer_groups": "a")", "reviewer_groups"},
      {R"("reviewer_groups": [1])", "reviewer_groups"},
      {R"("approvals_required": 0)", "approvals_required"},
      {R"("approvals_required": -1)", "approvals_required"},
      {R"("approvals_required": 1.5)", "approvals_required"},
      {R"("approvals_required": "2")", "approvals_required"},
      {R"("approvals_required": 99999999999)", "approvals_required"},
      {R"("reviewer_groups": ["a"], "approvals_required": 3)",
       "approvals_required"},
      {R"("deny_ends": "yes")", "deny_ends"},
      {R"("justification_required": 1)", "justification_required"},
      {R"("justification_min_length": -1)", "justification_min_length"},
      {R"("justification_min_length": "5")", "justification_min_length"},
      {R"("justification_min_length": 1000000)", "justification_min_length"},
      {R"("justification_min_length": 5, "justification_required": false)",
       "justification_required"},
      {R"("default_ttl": "soon")", "default_ttl"},
      {R"("default_ttl": 60)", "default_ttl"},
      {R"("default_ttl": "0s")", "default_ttl"},
      {R"("default_ttl": "-1h")", "default_ttl"},
      {R"("default_ttl": "169h")", "default_ttl"},
      {R"("default_ttl": "inf")", "default_ttl"},
      {R"("max_ttl": "500ms")", "max_ttl"},
      {R"("max_ttl": "1000h")", "max_ttl"},
      {R"("max_ttl": "1 hour")", "max_ttl"},
      {R"("max_ttl": "30m")", "max_ttl"},  // below limits.default_ttl 1h
      {R"("default_ttl": "3h", "max_ttl": "2h")", "default_ttl"},
      {R"("execution_window": "0s")", "execution_window"},
      {R"("execution_window": "-5m")", "execution_window"},
      {R"("execution_window": "721h")", "execution_window"},
      {R"("execution_window": "later")", "execution_window"},
      {R"("outcome": "auto_approve", "reviewer_groups": ["a"])",
       "reviewer_groups"},
      {R"("outcome": "auto_approve", "approvals_required": 1)",
       "approvals_required"},
      {R"("outcome": "deny", "deny_ends": true)", "deny_ends"},
      {R"("outcome": "deny", "reviewer_groups": [])", "reviewer_groups"},
      {R"("action": "y")", "action"},  // repeated key
      {R"("colour": "blue")", "colour"},
  };
  for (const Case& c : cases) {
    const std::string text = WithRule(c.fields);
    const std::string error = ErrorOf(text);
    INFO(text);
    INFO(error);
    CHECK(!error.empty());
    // Every error names the path of the key, a repeated key's too.
    CHECK(Contains(error, absl::StrCat("policy.json: rules[0].", c.field)));
  }
}

TEST_CASE("rule names and actions", "[policy]") {
  CHECK(ErrorOf(R"({"rules": [{"action": "x"}]})") ==
        "policy.json: rules[0].name: required");
  std::string e = ErrorOf(
      R"({"rules": [{"name": "ok", "action": "x"}, {"name": "bad name",
          "action": "x"}]})");
  CHECK(Contains(e, "rules[1].name: "));
  e = ErrorOf(R"({"rules": [{"name": 7, "action": "x"}]})");
  CHECK(Contains(e, "rules[0].name: 7 is a number, expected a string"));
  e = ErrorOf(R"({"rules": [{"name": "", "action": "x"}]})");
  CHECK(Contains(e, "rules[0].name"));
  e = ErrorOf(absl::StrCat(R"({"rules": [{"name": ")", std::string(65, 'n'),
                           R"(", "action": "x"}]})"));
  CHECK(Contains(e, "rules[0].name"));
  CHECK(ErrorOf(absl::StrCat(R"({"rules": [{"name": ")", std::string(64, 'n'),
                             R"(", "action": "x"}]})"))
            .empty());
  e = ErrorOf(R"({"rules": [{"name": "no-rule-matched", "action": "x"}]})");
  CHECK(Contains(e, "rules[0].name: \"no-rule-matched\" is reserved"));
  e = ErrorOf(R"({"rules": [{"name": "r", "action": "x"},
                            {"name": "s", "action": "x"},
                            {"name": "r", "action": "y"}]})");
  CHECK(Contains(e, "rules[2].name: \"r\" is already used by rules[0]"));
  CHECK(ErrorOf(R"({"rules": [{"name": "r"}]})") ==
        "policy.json: rules[0].action: required (rule \"r\")");
  e = ErrorOf(R"({"rules": [{"name": "r", "action": ""}]})");
  CHECK(Contains(e, "rules[0].action: must not be empty"));
  e = ErrorOf(R"({"rules": ["r"]})");
  CHECK(Contains(e, "rules[0]: \"r\" is a string, expected an object"));
}

TEST_CASE("unknown keys are errors at every level", "[policy]") {
  CHECK(ErrorOf(R"({"rules": [{"name": "r", "action": "x"}], "rule": []})") ==
        "policy.json: rule: unknown key (expected one of: groups, rules, "
        "masking)");
  CHECK(Contains(ErrorOf(WithRule(R"("approvals": 2)")),
                 "policy.json: rules[0].approvals: unknown key"));
  CHECK(Contains(ErrorOf(R"({"rules": [{"name": "r", "action": "x"}],
                  "masking": {"path": []}})"),
                 "masking.path: unknown key"));
  CHECK(Contains(ErrorOf(R"({"rules": [{"name": "r", "action": "x"}],
                  "masking": {"paths": [{"path": "$.a", "lable": "x"}]}})"),
                 "masking.paths[0].lable: unknown key"));
}

TEST_CASE("duplicate keys are errors anywhere", "[policy]") {
  CHECK(Contains(ErrorOf(R"({"rules": [{"name": "r", "action": "x"}],
                              "rules": [{"name": "s", "action": "x"}]})"),
                 "policy.json: rules: key \"rules\" appears twice"));
  CHECK(Contains(ErrorOf(WithRule(R"("deny_ends": true, "deny_ends": false)")),
                 "rules[0].deny_ends: key \"deny_ends\" appears twice"));
  CHECK(Contains(ErrorOf(R"({"groups": {"g": ["a"], "g": ["b"]},
                              "rules": [{"name": "r", "action": "x"}]})"),
                 "groups.g: key \"g\" appears twice"));
  CHECK(Contains(ErrorOf(R"({"rules": [{"name": "r", "action": "x"}],
                  "masking": {"paths": [{"path": "$.a", "path": "$.b"}]}})"),
                 "masking.paths[0].path: key \"path\" appears twice"));
  // Equal keys in sibling objects are fine.
  CHECK(ErrorOf(R"({"rules": [{"name": "r", "action": "x"},
                              {"name": "s", "action": "x"}]})")
            .empty());
}

TEST_CASE("malformed JSON and wrong top-level types", "[policy]") {
  CHECK(Contains(ErrorOf("{"), "policy.json: invalid JSON"));
  CHECK(Contains(ErrorOf(""), "policy.json: invalid JSON"));
  CHECK(Contains(ErrorOf("[]"),
                 "(top level): [] is an array, expected an object"));
  CHECK(ErrorOf("{}") == "policy.json: rules: required");
  CHECK(Contains(ErrorOf(R"({"rules": []})"), "rules: must not be empty"));
  CHECK(Contains(ErrorOf(R"({"rules": {}})"),
                 "rules: {} is an object, expected an array"));
  CHECK(Contains(ErrorOf(R"({"groups": [], "rules": [{"name": "r",
                             "action": "x"}]})"),
                 "groups: [] is an array, expected an object"));
  CHECK(Contains(ErrorOf(R"({"masking": [], "rules": [{"name": "r",
                             "action": "x"}]})"),
                 "masking: [] is an array, expected an object"));
}

TEST_CASE("groups are validated", "[policy]") {
  const auto with_groups = [](const std::string& groups) {
    return ErrorOf(
        absl::StrCat(R"({"groups": )", groups,
                     R"(, "rules": [{"name": "r", "action": "x"}]})"));
  };
  CHECK(with_groups(R"({"ok.group_1-x": ["a"]})").empty());
  CHECK(Contains(with_groups(R"({"bad group": ["a"]})"),
                 "policy.json: groups.bad group: "));
  CHECK(Contains(with_groups(R"({"g": []})"),
                 "groups.g: must name at least one member"));
  CHECK(Contains(with_groups(R"({"g": "alice"})"),
                 "groups.g: \"alice\" is a string, expected an array"));
  CHECK(Contains(with_groups(R"({"g": [""]})"),
                 "groups.g[0]: a member is the empty string"));
  CHECK(Contains(with_groups(R"({"g": [3]})"),
                 "groups.g[0]: 3 is a number, expected a principal"));
  CHECK(Contains(with_groups(R"({"g": ["a", "b", "a"]})"),
                 "groups.g[2]: \"a\" is listed twice"));
  // Groups may come after the rules that name them.
  CHECK(ErrorOf(R"({"rules": [{"name": "r", "action": "x",
                                "reviewer_groups": ["g"]}],
                    "groups": {"g": ["a"]}})")
            .empty());
}

TEST_CASE("approvals_required counts distinct people across groups",
          "[policy]") {
  // a: alice, bob; b: bob -> two distinct people.
  CHECK(
      ErrorOf(
          WithRule(R"("reviewer_groups": ["a", "b"], "approvals_required": 2)"))
          .empty());
  CHECK(ErrorOf(WithRule(
            R"("reviewer_groups": ["a", "b"], "approvals_required": 3)")) ==
        "policy.json: rules[0].approvals_required: 3 exceeds the 2 "
        "distinct members of reviewer_groups [a, b] (rule \"r\")");
  CHECK(Contains(
      ErrorOf(WithRule(R"("reviewer_groups": ["b"], "approvals_required": 2)")),
      "exceeds the 1 distinct members of reviewer_groups [b]"));
  // Without groups anyone may review: no upper bound from groups.
  CHECK(ErrorOf(WithRule(R"("approvals_required": 5)")).empty());
}

TEST_CASE("undefined reviewer group", "[policy]") {
  CHECK(ErrorOf(WithRule(R"("reviewer_groups": ["a", "c"])")) ==
        "policy.json: rules[0].reviewer_groups[1]: \"c\" is not defined in "
        "\"groups\" (rule \"r\")");
}

TEST_CASE("reviewer fields only apply to require_approval", "[policy]") {
  CHECK(ErrorOf(WithRule(R"("outcome": "auto_approve",
                             "reviewer_groups": ["a"])")) ==
        "policy.json: rules[0].reviewer_groups: only applies to "
        "require_approval (outcome is \"auto_approve\") (rule \"r\")");
  CHECK(Contains(ErrorOf(WithRule(R"("outcome": "deny",
                                      "approvals_required": 2)")),
                 "approvals_required: only applies to require_approval"));
  // Justification and ttl fields apply to every outcome.
  CHECK(ErrorOf(WithRule(R"("outcome": "auto_approve",
                             "justification_required": true,
                             "justification_min_length": 3,
                             "default_ttl": "10m", "max_ttl": "1h",
                             "execution_window": "5m")"))
            .empty());
  CHECK(
      ErrorOf(WithRule(R"("outcome": "deny", "justification_required": true)"))
          .empty());
  absl::StatusOr<Policy> p = Parse(WithRule(R"("outcome": "deny")"));
  REQUIRE(p.ok());
  CHECK(p->rules[0].outcome == Outcome::kAutoDeny);
}

TEST_CASE("ttls against the broker's limits", "[policy]") {
  CHECK(ErrorOf(WithRule(R"("default_ttl": "1s", "max_ttl": "168h")")).empty());
  CHECK(Contains(ErrorOf(WithRule(R"("default_ttl": "169h")")),
                 "default_ttl: 169h is outside the broker's limits 1s..168h"));
  CHECK(Contains(ErrorOf(WithRule(R"("max_ttl": "0.5s")")),
                 "max_ttl: 500ms is outside"));
  // A max_ttl below the broker's default needs a default_ttl.
  CHECK(Contains(ErrorOf(WithRule(R"("max_ttl": "30m")")), "set default_ttl"));
  CHECK(ErrorOf(WithRule(R"("max_ttl": "30m", "default_ttl": "10m")")).empty());
  CHECK(ErrorOf(WithRule(R"("max_ttl": "30m", "default_ttl": "30m")")).empty());
  CHECK(Contains(ErrorOf(WithRule(R"("max_ttl": "30m", "default_ttl": "31m")")),
                 "default_ttl: 31m exceeds max_ttl 30m"));
  CHECK(ErrorOf(WithRule(R"("execution_window": "720h")")).empty());

  Limits narrow;
  narrow.min_ttl = absl::Minutes(5);
  narrow.max_ttl = absl::Hours(2);
  narrow.default_ttl = absl::Minutes(30);
  CHECK_FALSE(
      ParsePolicy(WithRule(R"("default_ttl": "3h")"), "p", narrow).ok());
  CHECK_FALSE(ParsePolicy(WithRule(R"("max_ttl": "1m")"), "p", narrow).ok());
  CHECK(ParsePolicy(WithRule(R"("max_ttl": "1h")"), "p", narrow).ok());
}

TEST_CASE("masking is validated", "[policy]") {
  const auto with_masking = [](const std::string& masking) {
    return ErrorOf(absl::StrCat(R"({"rules": [{"name": "r", "action": "x"}],
                                    "masking": )",
                                masking, "}"));
  };
  CHECK(with_masking(R"({"paths": [], "detectors": []})").empty());
  absl::StatusOr<Policy> p = Parse(R"({"rules": [{"name": "r", "action": "x"}],
                                       "masking": {"detectors": []}})");
  REQUIRE(p.ok());
  CHECK(p->masking.detectors.empty());
  CHECK(Contains(with_masking(R"({"paths": [{"path": "$.a"},
                                            {"path": "rows"}]})"),
                 "policy.json: masking.paths[1].path: "));
  CHECK(
      Contains(with_masking(R"({"paths": [{"path": "$.a", "label": "a b"}]})"),
               "masking.paths[0].label: "));
  CHECK(Contains(with_masking(R"({"paths": [{"label": "x"}]})"),
                 "masking.paths[0].path: required"));
  CHECK(Contains(with_masking(R"({"paths": ["$.a"]})"),
                 "masking.paths[0]: \"$.a\" is a string, expected an object"));
  CHECK(Contains(with_masking(R"({"detectors": ["email", "phone"]})"),
                 "masking.detectors[1]: \"phone\" is not a detector"));
  CHECK(Contains(with_masking(R"({"detectors": ["email", "email"]})"),
                 "masking.detectors[1]: \"email\" is listed twice"));
  CHECK(
      Contains(with_masking(R"({"detectors": "email"})"),
               "masking.detectors: \"email\" is a string, expected an array"));
}

TEST_CASE("the first matching rule wins", "[policy]") {
  absl::StatusOr<Policy> p = Parse(R"({"rules": [
    {"name": "exports", "action": "db.export"},
    {"name": "prod-exports", "action": "db.export",
     "resource": "postgres://prod/*", "outcome": "deny"},
    {"name": "agents", "action": "*", "requester": "agent-?"},
    {"name": "prod", "action": "*", "resource": "*prod*"}
  ]})");
  REQUIRE(p.ok());
  const auto name = [&](absl::string_view action, absl::string_view resource,
                        absl::string_view requester) -> std::string {
    const PolicyRule* r = p->Match(action, resource, requester);
    return r == nullptr ? "<none>" : r->name;
  };
  // The later, more specific rule does not win.
  CHECK(name("db.export", "postgres://prod/customers", "alice") == "exports");
  CHECK(name("db.query", "postgres://prod/customers", "agent-1") == "agents");
  CHECK(name("db.query", "postgres://prod/customers", "agent-12") == "prod");
  CHECK(name("db.query", "postgres://staging/x", "agent-12") == "<none>");
  CHECK(name("db.query", "", "agent-x") == "agents");
  CHECK(p->Match("db.query", "postgres://staging/x", "alice") == nullptr);
  CHECK(p->Match("db.export", "x", "y") == &p->rules[0]);
}

TEST_CASE("GlobMatch", "[policy]") {
  CHECK(GlobMatch("", ""));
  CHECK_FALSE(GlobMatch("", "a"));
  CHECK(GlobMatch("*", ""));
  CHECK(GlobMatch("*", "anything/with/slashes"));
  CHECK(GlobMatch("**", "x"));
  CHECK_FALSE(GlobMatch("?", ""));
  CHECK(GlobMatch("?", "a"));
  CHECK_FALSE(GlobMatch("?", "ab"));
  CHECK(GlobMatch("a?c", "abc"));
  CHECK_FALSE(GlobMatch("a?c", "ac"));
  CHECK(GlobMatch("a*b*c", "abc"));
  CHECK(GlobMatch("a*b*c", "aXXbYYc"));
  CHECK(GlobMatch("a*b*c", "abbbcbc"));
  CHECK_FALSE(GlobMatch("a*b*c", "aXXbYY"));
  CHECK_FALSE(GlobMatch("a*b*c", "acb"));
  CHECK(GlobMatch("db.*", "db."));
  CHECK(GlobMatch("db.*", "db.export"));
  CHECK_FALSE(GlobMatch("db.*", "db"));
  CHECK(GlobMatch("*.destroy", "vm.destroy"));
  CHECK_FALSE(GlobMatch("*.destroy", "vm.destroyed"));
  CHECK(GlobMatch("exact", "exact"));
  CHECK_FALSE(GlobMatch("exact", "exac"));
  CHECK_FALSE(GlobMatch("exact", "exactly"));
  CHECK_FALSE(GlobMatch("Exact", "exact"));
  CHECK(GlobMatch("a*", "a*"));
  CHECK(GlobMatch("*?", "x"));
  CHECK_FALSE(GlobMatch("*?", ""));

  // Pathological for recursive backtracking matchers (exponential there,
  // O(pattern x text) here): an exponential matcher would not finish before
  // the test's timeout. No wall-clock assertion: this machine is shared.
  const std::string text(100000, 'a');
  CHECK_FALSE(GlobMatch("a*a*a*a*a*a*a*a*b", text));
  CHECK_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*b*", text));
  CHECK(GlobMatch("a*a*a*a*a*a*a*a*", text));
}

TEST_CASE("GroupsOf lists a principal's groups sorted", "[policy]") {
  absl::StatusOr<Policy> p = Parse(R"({
    "groups": {"sre": ["bob"], "data-team": ["alice", "bob"],
               "security": ["bob", "carol"]},
    "rules": [{"name": "r", "action": "*"}]})");
  REQUIRE(p.ok());
  CHECK(p->GroupsOf("bob") ==
        std::vector<std::string>{"data-team", "security", "sre"});
  CHECK(p->GroupsOf("alice") == std::vector<std::string>{"data-team"});
  CHECK(p->GroupsOf("mallory").empty());
  CHECK(p->GroupsOf("").empty());
}

TEST_CASE("RequirementOf copies what a request records", "[policy]") {
  PolicyRule r;
  r.name = "customer-export";
  r.action = "db.export";
  r.outcome = Outcome::kRequireApproval;
  r.reviewer_groups = {"data-team", "security"};
  r.approvals_required = 2;
  r.deny_ends = false;
  r.execution_window = absl::Minutes(15);
  const Requirement q = RequirementOf(r);
  CHECK(q.rule == "customer-export");
  CHECK(q.outcome == Outcome::kRequireApproval);
  CHECK(q.reviewer_groups == r.reviewer_groups);
  CHECK(q.approvals_required == 2);
  CHECK_FALSE(q.deny_ends);
  CHECK(q.execution_window == absl::Minutes(15));

  r.outcome = Outcome::kAutoApprove;
  CHECK(RequirementOf(r).outcome == Outcome::kAutoApprove);
}

TEST_CASE("DefaultPolicy matches anything and needs one approval", "[policy]") {
  const Policy p = DefaultPolicy();
  REQUIRE(p.rules.size() == 1);
  for (const auto& [action, resource, requester] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"db.export", "postgres://prod/x", "agent-1"},
           {"", "", ""},
           {"iam.grant", "role/admin", "spiffe://x/y"}}) {
    const PolicyRule* r = p.Match(action, resource, requester);
    REQUIRE(r != nullptr);
    CHECK(r->name == "default");
  }
  const Requirement q = RequirementOf(p.rules[0]);
  CHECK(q.outcome == Outcome::kRequireApproval);
  CHECK(q.approvals_required == 1);
  CHECK(q.reviewer_groups.empty());
  CHECK(p.groups.empty());
  CHECK(p.masking.paths.empty());
  CHECK(p.masking.detectors == AllDetectors());
}

TEST_CASE("LoadPolicyFile reports an unreadable file by path", "[policy]") {
  const std::string path = "/nonexistent/dir/policy.jsonc";
  absl::StatusOr<Policy> p = LoadPolicyFile(path, kLimits);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kNotFound);
  CHECK(Contains(std::string(p.status().message()), path));
}

}  // namespace
}  // namespace approval

namespace approval {
namespace {

TEST_CASE("relays_allowed defaults to true and reads false",
          "[policy][relay]") {
  absl::StatusOr<Policy> def = Parse(WithRule(""));
  REQUIRE(def.ok());
  CHECK(def->rules[0].relays_allowed);
  CHECK(def->RulesRefusingRelays().empty());
  absl::StatusOr<Policy> off = Parse(WithRule(R"("relays_allowed": false)"));
  REQUIRE(off.ok());
  CHECK_FALSE(off->rules[0].relays_allowed);
  CHECK(off->RulesRefusingRelays() == std::vector<std::string>{"r"});
}

TEST_CASE("relays_allowed must be a boolean and only on require_approval",
          "[policy][relay]") {
  CHECK(Contains(ErrorOf(WithRule(R"("relays_allowed": "no")")),
                 "relays_allowed"));
  CHECK(Contains(
      ErrorOf(WithRule(R"("outcome": "deny", "relays_allowed": false)")),
      "only applies to require_approval"));
}

TEST_CASE("escalate_after and escalate_to parse and reach the requirement",
          "[policy][escalation]") {
  absl::StatusOr<Policy> p = Parse(WithRule(
      R"("reviewer_groups": ["a"], "escalate_after": "20m",
         "escalate_to": ["b"])"));
  REQUIRE(p.ok());
  CHECK(p->rules[0].escalate_after == absl::Minutes(20));
  CHECK(p->rules[0].escalate_to == std::vector<std::string>{"b"});
  const Requirement r = RequirementOf(p->rules[0]);
  CHECK(r.escalate_after == absl::Minutes(20));
  CHECK(r.escalate_to == std::vector<std::string>{"b"});

  absl::StatusOr<Policy> none = Parse(WithRule(""));
  REQUIRE(none.ok());
  CHECK(none->rules[0].escalate_after == absl::ZeroDuration());
  CHECK(none->rules[0].escalate_to.empty());
}

TEST_CASE("escalation fields are refused at load with the field named",
          "[policy][escalation]") {
  CHECK(ErrorOf(WithRule(R"("escalate_after": "soon", "escalate_to": ["b"])"))
            .find("rules[0].escalate_after") != std::string::npos);
  CHECK(Contains(
      ErrorOf(WithRule(R"("escalate_after": "0s", "escalate_to": ["b"])")),
      "rules[0].escalate_after: 0 must be positive"));
  CHECK(Contains(
      ErrorOf(WithRule(R"("escalate_after": "-5m", "escalate_to": ["b"])")),
      "must be positive"));
  CHECK(ErrorOf(WithRule(R"("escalate_after": "5m", "escalate_to": ["c"])")) ==
        "policy.json: rules[0].escalate_to[0]: \"c\" is not defined in "
        "\"groups\" (rule \"r\")");
  CHECK(Contains(ErrorOf(WithRule(R"("escalate_after": "5m")")),
                 "rules[0].escalate_after: needs escalate_to as well"));
  CHECK(Contains(ErrorOf(WithRule(R"("escalate_to": ["b"])")),
                 "rules[0].escalate_to: needs escalate_after as well"));
  CHECK(Contains(
      ErrorOf(WithRule(R"("escalate_after": "5m", "escalate_to": [])")),
      "rules[0].escalate_to: must name at least one group"));
  CHECK(Contains(
      ErrorOf(WithRule(R"("escalate_after": "5m", "escalate_to": ["b", "b"])")),
      "rules[0].escalate_to[1]: \"b\" is listed twice"));
  // It could never fire: every approval would expire first.
  CHECK(Contains(ErrorOf(WithRule(R"("max_ttl": "2h", "escalate_after": "2h",
                                      "escalate_to": ["b"])")),
                 "rules[0].escalate_after: 2h is not below max_ttl 2h"));
  CHECK(Contains(ErrorOf(WithRule(R"("outcome": "deny",
                                      "escalate_after": "5m",
                                      "escalate_to": ["b"])")),
                 "escalate_after: only applies to require_approval"));
}

}  // namespace
}  // namespace approval
