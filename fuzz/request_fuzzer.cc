// Request validation and masked previews (server/domain/validation.h
// ValidateRequest and ToNewApproval, server/domain/masking.h).
//
// Input: the request's fields, then the parameters JSON (FuzzedDataProvider
// layout: ttl selector byte, action, resource, justification, idempotency
// key as length-prefixed strings, the rest is parameters).
// Invariants for an accepted request:
//  - every field is kept exactly as sent and within its limit; action uses
//    its alphabet; resource and idempotency key have no control characters;
//  - canonical_parameters and action_digest are what canonical.h computes;
//  - the masked preview succeeds or is INVALID_ARGUMENT, is canonical JSON,
//    and the path rule's value ($.secret) never appears unmasked.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "fuzz/fuzz_check.h"
#include "nlohmann/json.hpp"
#include "server/domain/masking.h"
#include "server/domain/validation.h"
#include "wire/canonical.h"

namespace {

const approval::Masker& TheMasker() {
  static const approval::Masker* masker = [] {
    approval::MaskingOptions options;
    options.paths = {{"$.secret", "redacted"},
                     {"$.rows[*].email", "email"},
                     {"$.auth['api-key']", "key"}};
    auto m = approval::Masker::Create(options, std::string(32, 'k'));
    FUZZ_CHECK(m.ok(), "%s", m.status().ToString().c_str());
    return m->release();
  }();
  return *masker;
}

bool IsActionChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
         c == ':' || c == '/';
}

bool HasControl(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  // Small limits, so that the bounds are reached too.
  approval::Limits limits;
  limits.max_action_bytes = 32;
  limits.max_resource_bytes = 64;
  limits.max_justification_bytes = 64;
  limits.max_idempotency_key_bytes = 16;
  limits.max_parameters_bytes = 4096;

  approval::RequestInput req;
  const uint8_t ttl_selector = in.ConsumeIntegral<uint8_t>();
  if (ttl_selector & 1) {
    req.ttl =
        absl::Seconds(static_cast<int64_t>(ttl_selector >> 1) * 4000 - 100);
  }
  req.action = in.ConsumeRandomLengthString(64);
  req.resource = in.ConsumeRandomLengthString(128);
  req.justification = in.ConsumeRandomLengthString(128);
  req.idempotency_key = in.ConsumeRandomLengthString(32);
  req.parameters_json = in.ConsumeRemainingBytesAsString();

  absl::StatusOr<approval::ValidRequest> v =
      approval::ValidateRequest(req, "agent", limits);
  if (!v.ok()) {
    FUZZ_CHECK(v.status().code() == absl::StatusCode::kInvalidArgument, "%s",
               v.status().ToString().c_str());
    return 0;
  }
  FUZZ_CHECK(v->action == req.action && v->resource == req.resource &&
                 v->justification == req.justification &&
                 v->idempotency_key == req.idempotency_key,
             "a field was changed");
  FUZZ_CHECK(!v->action.empty() && v->action.size() <= limits.max_action_bytes,
             "action of %zu bytes", v->action.size());
  for (unsigned char c : v->action) {
    FUZZ_CHECK(IsActionChar(c), "action byte 0x%02x", c);
  }
  FUZZ_CHECK(!v->resource.empty() &&
                 v->resource.size() <= limits.max_resource_bytes &&
                 !HasControl(v->resource),
             "resource accepted");
  FUZZ_CHECK(v->justification.size() <= limits.max_justification_bytes,
             "justification of %zu bytes", v->justification.size());
  FUZZ_CHECK(v->idempotency_key.size() <= limits.max_idempotency_key_bytes &&
                 !HasControl(v->idempotency_key),
             "idempotency key accepted");
  if (req.ttl) {
    FUZZ_CHECK(*req.ttl >= limits.min_ttl && *req.ttl <= limits.max_ttl,
               "ttl out of range accepted");
  }
  absl::StatusOr<std::string> canonical = approval::CanonicalizeJsonObject(
      req.parameters_json.empty() ? "{}" : req.parameters_json);
  FUZZ_CHECK(canonical.ok() && *canonical == v->canonical_parameters,
             "canonical parameters differ");
  FUZZ_CHECK(v->action_digest ==
                 approval::ActionDigest(v->action, v->resource, *canonical),
             "action digest differs");

  const approval::Masker& masker = TheMasker();
  absl::StatusOr<std::string> preview =
      masker.MaskParameters(v->canonical_parameters);
  absl::StatusOr<approval::NewApproval> stored = approval::ToNewApproval(
      *v, masker, absl::Hours(1), approval::Requirement{});
  FUZZ_CHECK(preview.ok() == stored.ok(),
             "MaskParameters and ToNewApproval disagree");
  if (!preview.ok()) {
    FUZZ_CHECK(preview.status().code() == absl::StatusCode::kInvalidArgument,
               "%s", preview.status().ToString().c_str());
    return 0;
  }
  FUZZ_CHECK(stored->parameters_preview == *preview, "previews differ");
  absl::StatusOr<std::string> recanonical =
      approval::CanonicalizeJsonObject(*preview);
  FUZZ_CHECK(recanonical.ok() && *recanonical == *preview,
             "preview %s is not canonical", preview->c_str());
  const nlohmann::json params = nlohmann::json::parse(v->canonical_parameters);
  const nlohmann::json masked = nlohmann::json::parse(*preview);
  if (params.contains("secret")) {
    FUZZ_CHECK(masked.contains("secret") && masked.at("secret").is_string() &&
                   absl::StartsWith(masked.at("secret").get<std::string>(),
                                    "<masked:redacted:"),
               "$.secret shown as %s", preview->c_str());
  }
  return 0;
}
