// The review policy file parser (server/policy/policy.h ParsePolicy) and
// its glob matcher.
//
// Input: the policy file's text.
// Invariants for an accepted policy: rule names unique; approvals_required
// >= 1 and, with reviewer groups, at most their distinct members; every
// named group exists and is non-empty; default_ttl <= max_ttl; its masking
// options build a Masker; every glob matches itself; matching and group
// lookups do not crash.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "fuzz/fuzz_check.h"
#include "server/domain/masking.h"
#include "server/policy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const approval::Limits limits;
  absl::StatusOr<approval::Policy> policy =
      approval::ParsePolicy(text, "fuzz.jsonc", limits);
  if (!policy.ok()) {
    FUZZ_CHECK(policy.status().code() == absl::StatusCode::kInvalidArgument,
               "%s", policy.status().ToString().c_str());
    return 0;
  }
  std::set<std::string> names;
  for (const approval::PolicyRule& rule : policy->rules) {
    FUZZ_CHECK(names.insert(rule.name).second, "rule %s twice",
               rule.name.c_str());
    FUZZ_CHECK(rule.approvals_required >= 1, "rule %s", rule.name.c_str());
    std::set<std::string> members;
    for (const std::string& g : rule.reviewer_groups) {
      auto it = policy->groups.find(g);
      FUZZ_CHECK(it != policy->groups.end() && !it->second.empty(),
                 "rule %s names group %s", rule.name.c_str(), g.c_str());
      members.insert(it->second.begin(), it->second.end());
    }
    if (!rule.reviewer_groups.empty()) {
      FUZZ_CHECK(static_cast<size_t>(rule.approvals_required) <= members.size(),
                 "rule %s needs %d of %zu members", rule.name.c_str(),
                 rule.approvals_required, members.size());
    }
    if (rule.default_ttl && rule.max_ttl) {
      FUZZ_CHECK(*rule.default_ttl <= *rule.max_ttl, "rule %s ttl",
                 rule.name.c_str());
    }
    FUZZ_CHECK(rule.execution_window > absl::ZeroDuration(),
               "rule %s execution_window", rule.name.c_str());
    for (const std::string* glob :
         {&rule.action, &rule.resource, &rule.requester}) {
      FUZZ_CHECK(approval::GlobMatch(*glob, *glob),
                 "glob \"%s\" does not match itself", glob->c_str());
    }
    FUZZ_CHECK(
        policy->Match(rule.action, rule.resource, rule.requester) != nullptr,
        "rule %s does not match its own globs", rule.name.c_str());
  }
  auto masker = approval::Masker::Create(policy->masking, std::string(32, 'k'));
  FUZZ_CHECK(masker.ok(), "accepted masking options fail: %s",
             masker.status().ToString().c_str());
  for (const auto& [group, members] : policy->groups) {
    for (const std::string& m : members) (void)policy->GroupsOf(m);
  }
  (void)policy->Match(text.substr(0, 16), text, "agent");
  return 0;
}
