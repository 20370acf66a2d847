#include "server/policy/active_policy.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace approval {
namespace {

// Unicode code points of valid UTF-8 (ValidateRequest checked it).
int CodePoints(absl::string_view s) {
  int n = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ActivePolicy>> LoadActivePolicy(
    const std::string& path, const Limits& limits,
    const std::string& fingerprint_key) {
  auto active = std::make_shared<ActivePolicy>();
  if (path.empty()) {
    active->policy = DefaultPolicy();
    active->source = "built-in default policy";
  } else {
    absl::StatusOr<Policy> loaded = LoadPolicyFile(path, limits);
    if (!loaded.ok()) return loaded.status();
    active->policy = *std::move(loaded);
    active->source = path;
  }
  absl::StatusOr<std::unique_ptr<Masker>> masker =
      Masker::Create(active->policy.masking, fingerprint_key);
  if (!masker.ok()) {
    return absl::Status(
        masker.status().code(),
        absl::StrCat(active->source, ": masking: ", masker.status().message()));
  }
  active->masker = *std::move(masker);
  return std::shared_ptr<const ActivePolicy>(std::move(active));
}

PolicyHolder::PolicyHolder(std::shared_ptr<const ActivePolicy> initial)
    : current_(std::move(initial)) {}

std::shared_ptr<const ActivePolicy> PolicyHolder::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

void PolicyHolder::Replace(std::shared_ptr<const ActivePolicy> next) {
  absl::MutexLock lock(&mu_);
  current_ = std::move(next);
}

absl::StatusOr<NewApproval> ApplyPolicy(const ValidRequest& request,
                                        const ActivePolicy& active,
                                        const Limits& limits) {
  const PolicyRule* rule =
      active.policy.Match(request.action, request.resource, request.requester);
  Requirement requirement;
  absl::Duration default_ttl = limits.default_ttl;
  absl::Duration max_ttl = limits.max_ttl;
  if (rule == nullptr) {
    // Fail closed: what no rule allows is denied, on the record.
    requirement.rule = std::string(kNoRuleMatched);
    requirement.outcome = Outcome::kAutoDeny;
  } else {
    requirement = RequirementOf(*rule);
    if (rule->default_ttl) default_ttl = *rule->default_ttl;
    if (rule->max_ttl) max_ttl = *rule->max_ttl;
    const int length = CodePoints(request.justification);
    if (rule->justification_required && length == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "justification: rule \"", rule->name, "\" requires a justification"));
    }
    if (length < rule->justification_min_length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "justification: ", length, " characters, rule \"", rule->name,
          "\" requires at least ", rule->justification_min_length));
    }
  }
  absl::Duration ttl = request.ttl.value_or(std::min(default_ttl, max_ttl));
  if (ttl > max_ttl) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ttl: ", absl::FormatDuration(ttl), " exceeds rule \"",
        requirement.rule, "\"'s max_ttl ", absl::FormatDuration(max_ttl)));
  }
  return ToNewApproval(request, *active.masker, ttl, std::move(requirement));
}

}  // namespace approval
