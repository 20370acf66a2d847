// The policy a running broker applies, and how a request meets it.
//
// ActivePolicy bundles a parsed Policy with the Masker built from its masking
// section. PolicyHolder hands out the current one and swaps in a new one on
// reload (SIGHUP); a request uses the snapshot it started with from start to
// end, so a reload never splits one request across two policies.
#ifndef APPROVAL_SERVER_POLICY_ACTIVE_POLICY_H_
#define APPROVAL_SERVER_POLICY_ACTIVE_POLICY_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/domain/masking.h"
#include "server/domain/validation.h"
#include "server/policy/policy.h"

namespace approval {

struct ActivePolicy {
  Policy policy;
  std::unique_ptr<Masker> masker;
  std::string source;  // the policy file, or "built-in default policy"
};

// Builds the ActivePolicy of the file at `path` ("" = DefaultPolicy()) with
// fingerprints keyed by `fingerprint_key`. INVALID_ARGUMENT naming file,
// rule and field (ParsePolicy), or the file's read error.
absl::StatusOr<std::shared_ptr<const ActivePolicy>> LoadActivePolicy(
    const std::string& path, const Limits& limits,
    const std::string& fingerprint_key);

// Thread-safe.
class PolicyHolder final {
 public:
  explicit PolicyHolder(std::shared_ptr<const ActivePolicy> initial);

  std::shared_ptr<const ActivePolicy> Current() const;
  void Replace(std::shared_ptr<const ActivePolicy> next);

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const ActivePolicy> current_ ABSL_GUARDED_BY(mu_);
};

// Applies `active` to a validated request: the first matching rule (none:
// the implicit kNoRuleMatched deny), its justification and TTL rules, then
// masking. INVALID_ARGUMENT naming the rule when the justification is
// missing or too short, or the requested ttl exceeds the rule's max_ttl.
absl::StatusOr<NewApproval> ApplyPolicy(const ValidRequest& request,
                                        const ActivePolicy& active,
                                        const Limits& limits);

}  // namespace approval

#endif  // APPROVAL_SERVER_POLICY_ACTIVE_POLICY_H_
