// Request validation: what a RequestApproval may carry, checked before any
// policy rule or masking applies, and the identifiers and free text of the
// other calls. Pure functions, no I/O.
#ifndef APPROVAL_SERVER_DOMAIN_VALIDATION_H_
#define APPROVAL_SERVER_DOMAIN_VALIDATION_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/approval.h"

namespace approval {

// Bounds on what a request may carry. Every field has a default that suits a
// production broker; the config file may change them.
struct Limits {
  size_t max_action_bytes = 128;
  size_t max_resource_bytes = 1024;
  size_t max_parameters_bytes = 64 * 1024;
  size_t max_justification_bytes = 4096;
  size_t max_comment_bytes = 4096;
  size_t max_idempotency_key_bytes = 128;
  absl::Duration default_ttl = absl::Hours(1);
  absl::Duration min_ttl = absl::Seconds(1);
  absl::Duration max_ttl = absl::Hours(24 * 7);
};

// What a caller sent to RequestApproval, before validation.
struct RequestInput {
  std::string action;
  std::string resource;
  std::string parameters_json;  // empty means {}
  std::string justification;
  std::string idempotency_key;
  std::optional<absl::Duration> ttl;  // nullopt: Limits::default_ttl
};

// A request whose fields passed validation, before a policy rule and
// masking apply. Holds the raw canonical parameters: never store it.
struct ValidRequest {
  std::string action;
  std::string resource;              // raw
  std::string canonical_parameters;  // raw
  std::string justification;         // raw
  std::string requester;
  std::string on_behalf_of;
  std::string idempotency_key;
  std::string action_digest;
  std::optional<absl::Duration> ttl;  // as requested; nullopt: the default
};

// Validates `in` and computes its canonical parameters and action digest.
// Text fields follow text.h (action, resource, idempotency_key single-line;
// justification and parameters multi-line); parameters follow the canonical
// JSON rules of canonical.h, numbers included.
// `requester` and `on_behalf_of` are canonical principals ("" on_behalf_of:
// the requester acts for nobody). A requested ttl is checked against
// limits.min_ttl..limits.max_ttl here; a policy rule may narrow it later.
// INVALID_ARGUMENT naming the field and the bound on any violation.
absl::StatusOr<ValidRequest> ValidateRequest(
    const RequestInput& in, absl::string_view requester, const Limits& limits,
    absl::string_view on_behalf_of = "");

// The request fingerprint of `v` with its resolved `ttl`: SHA-256 (hex) over
// the digest, the raw justification, the ttl and (when set) on_behalf_of, so
// that an idempotent retry matches only the same request for the same human.
std::string RequestFingerprint(const ValidRequest& v, absl::Duration ttl);

// What is stored of `v`: the parameters, resource and justification masked
// by `masker`, the fingerprint, `ttl` and `requirement`. INVALID_ARGUMENT if
// masking fails (it only can for parameters that are not an object).
class Masker;
absl::StatusOr<NewApproval> ToNewApproval(const ValidRequest& v,
                                          const Masker& masker,
                                          absl::Duration ttl,
                                          Requirement requirement);

// INVALID_ARGUMENT unless `id` is a canonical lower-case UUID.
absl::Status ValidateApprovalId(absl::string_view id);
// INVALID_ARGUMENT naming `field` if a decision comment or cancel reason
// exceeds limits.max_comment_bytes or is not text (text.h, kMultiLine).
absl::Status ValidateComment(absl::string_view comment, const Limits& limits,
                             absl::string_view field = "comment");

// A random (version 4) UUID in canonical lower-case form: a new approval id.
std::string NewUuid();

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_VALIDATION_H_
