// Review policy: which rule applies to a request, what it requires, who
// belongs to which reviewer group, and how previews are masked.
//
// Policy file (JSON; `//` and `/* */` comments allowed; unknown keys, wrong
// types and repeated keys are errors). See deploy/policy.example.jsonc.
//
//   {
//     "groups": {                       // group -> canonical principals
//       "data-team": ["alice", "bob"],
//       "security": ["bob", "carol"]
//     },
//     "rules": [                        // the first match applies
//       {
//         "name": "customer-export",    // unique, [A-Za-z0-9._-], 1-64
//         "action": "db.export",        // glob: * any run, ? one char
//         "resource": "postgres://prod/*",  // glob, default "*"
//         "requester": "*",             // glob over the canonical principal
//         "outcome": "require_approval",  // | "auto_approve" | "deny"
//         "reviewer_groups": ["data-team"],  // default []: any reviewer
//         "approvals_required": 2,      // distinct people, default 1
//         "deny_ends": true,            // default true
//         "justification_required": true,  // default false
//         "justification_min_length": 20,  // characters, default 0
//         "default_ttl": "30m",         // default: the broker's limits
//         "max_ttl": "2h",              // default: the broker's limits
//         "execution_window": "15m",    // default "1h"
//         "relays_allowed": false,      // default true: chat bots may
//                                       // decide for linked humans
//         "escalate_after": "20m",      // with escalate_to; default none
//         "escalate_to": ["security"]   // may review once escalated
//       }
//     ],
//     "masking": {
//       "paths": [{"path": "$.rows[*].email", "label": "email"}],
//       "detectors": ["email", "payment_card", "us_ssn", "iban",
//                     "aws_access_key", "bearer_token", "pem_private_key"]
//     }
//   }
//
// A request no rule matches is denied by the implicit rule kNoRuleMatched.
// Pure: parsing and matching do no I/O except LoadPolicyFile's read.
#ifndef APPROVAL_SERVER_POLICY_POLICY_H_
#define APPROVAL_SERVER_POLICY_POLICY_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/approval.h"
#include "server/domain/masking.h"
#include "server/domain/validation.h"

namespace approval {

// Name of the implicit rule that denies a request no rule matches.
inline constexpr absl::string_view kNoRuleMatched = "no-rule-matched";

struct PolicyRule {
  std::string name;
  std::string action;  // glob
  std::string resource = "*";
  std::string requester = "*";
  Outcome outcome = Outcome::kRequireApproval;
  std::vector<std::string> reviewer_groups;
  int approvals_required = 1;
  bool deny_ends = true;
  bool justification_required = false;
  int justification_min_length = 0;           // Unicode code points
  std::optional<absl::Duration> default_ttl;  // nullopt: Limits::default_ttl
  std::optional<absl::Duration> max_ttl;      // nullopt: Limits::max_ttl
  absl::Duration execution_window = absl::Hours(1);
  // false: reviews through relays (chat bots deciding for a linked human)
  // are refused; reviewers must call with their own credentials.
  bool relays_allowed = true;
  // Escalation (Requirement::escalate_after / escalate_to): both set or
  // neither. Zero / empty by default: the rule never escalates.
  absl::Duration escalate_after = absl::ZeroDuration();
  std::vector<std::string> escalate_to;
};

struct Policy {
  std::vector<PolicyRule> rules;
  std::map<std::string, std::set<std::string>> groups;
  MaskingOptions masking;

  // The first rule matching all three globs; nullptr when none does.
  const PolicyRule* Match(absl::string_view action, absl::string_view resource,
                          absl::string_view requester) const;
  // Names of the groups `principal` belongs to, sorted.
  std::vector<std::string> GroupsOf(absl::string_view principal) const;
  // Names of the rules with relays_allowed: false.
  std::vector<std::string> RulesRefusingRelays() const;
};

// The policy of a broker started without a policy file: one rule "default"
// matching everything, requiring one approval from any reviewer, all
// detectors on, no path rules.
Policy DefaultPolicy();

// Parses and validates a policy file's text against the broker's `limits`;
// `source` (usually the file name) prefixes every error. INVALID_ARGUMENT
// naming the rule and the field, e.g.
//   policy.json: rule "customer-export": approvals_required: 3 exceeds the 2
//   members of reviewer_groups [data-team]
// Checks: JSON well-formed, no unknown keys or duplicate keys, every rule
// named uniquely with an action, globs non-empty, outcome known,
// reviewer_groups defined in "groups" (and non-empty groups),
// 1 <= approvals_required <= distinct members of its groups (when groups are
// named), justification_min_length >= 0 (and > 0 implies required),
// durations parse and lie within limits.min_ttl..limits.max_ttl with
// default_ttl <= max_ttl, execution_window in (0, 30 days], masking paths
// valid (ValidateJsonPath) and labels valid, detector names known, group
// names [A-Za-z0-9._-]. Rules with outcome auto_approve/deny may not set
// reviewer fields. escalate_after and escalate_to come together;
// escalate_after > 0 and below the rule's max_ttl (else it could never
// fire), escalate_to groups defined, none listed twice.
absl::StatusOr<Policy> ParsePolicy(absl::string_view text,
                                   absl::string_view source,
                                   const Limits& limits);

// Reads `path` and ParsePolicy's it with the file name as the source.
absl::StatusOr<Policy> LoadPolicyFile(const std::string& path,
                                      const Limits& limits);

// Shell-style glob: `*` matches any run of characters (also empty, also
// '/'), `?` exactly one byte; everything else matches itself.
bool GlobMatch(absl::string_view pattern, absl::string_view text);

// The requirement recorded for a request matched by `rule`.
Requirement RequirementOf(const PolicyRule& rule);

}  // namespace approval

#endif  // APPROVAL_SERVER_POLICY_POLICY_H_
