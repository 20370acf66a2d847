// Building stored requests in tests without a broker: validation, then the
// same masking and requirement step the service runs (with a fixed test-only
// fingerprint key and, by default, a one-approval requirement).
#ifndef APPROVAL_TESTS_SUPPORT_TEST_REQUESTS_H_
#define APPROVAL_TESTS_SUPPORT_TEST_REQUESTS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/domain/masking.h"
#include "server/domain/validation.h"

namespace approval {

// Test-only key: fingerprints in tests need no secrecy.
inline const Masker& TestMasker() {
  static const Masker* const masker =
      Masker::Create(MaskingOptions(),
                     std::string(kMinFingerprintKeyBytes, 't'))
          ->release();
  return *masker;
}

inline Requirement OneApproval() {
  Requirement r;
  r.rule = "test";
  return r;
}

// ValidateRequest + ToNewApproval with ttl = the requested one or
// limits.default_ttl.
inline absl::StatusOr<NewApproval> MakeNewApproval(
    const RequestInput& in, absl::string_view requester,
    const Limits& limits = Limits(), absl::string_view on_behalf_of = "",
    Requirement requirement = OneApproval()) {
  absl::StatusOr<ValidRequest> v =
      ValidateRequest(in, requester, limits, on_behalf_of);
  if (!v.ok()) return v.status();
  return ToNewApproval(*v, TestMasker(), v->ttl.value_or(limits.default_ttl),
                       std::move(requirement));
}

}  // namespace approval

#endif  // APPROVAL_TESTS_SUPPORT_TEST_REQUESTS_H_
