// Masked previews: what reviewers see of an approval's parameters (and its
// resource and justification) instead of the raw values.
//
// A value is masked when a JSON path rule selects it or a built-in detector
// finds a sensitive pattern in it. A masked value becomes the string
//   "<masked:TYPE:FINGERPRINT>"
// where TYPE is the path rule's label or the detector's name and FINGERPRINT
// is the first 16 lower-case hex characters of HMAC-SHA-256(key, value bytes)
// (for a string: its UTF-8 bytes; for any other value: its canonical JSON).
// Equal values give equal fingerprints under one key, so a reviewer can tell
// that two rows carry the same card without seeing it; another key gives
// other fingerprints, so fingerprints cannot be matched across deployments.
//
// Detectors mask only the matching part of a string ("mail <masked:email:…>
// today"); they also run over object keys and over integers (payment cards
// sent as JSON numbers). Pure functions: no I/O; a Masker is immutable and
// thread-safe.
#ifndef APPROVAL_SERVER_DOMAIN_MASKING_H_
#define APPROVAL_SERVER_DOMAIN_MASKING_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace approval {

enum class Detector {
  kEmail,         // "email": local@domain.tld
  kPaymentCard,   // "payment_card": 13-19 digits (spaces/dashes allowed)
                  // that pass the Luhn check
  kUsSsn,         // "us_ssn": AAA-GG-SSSS with the SSA's invalid ranges
                  // (000, 666, 9xx, 00, 0000) left visible
  kIban,          // "iban": country code, check digits, BBAN; mod-97 checked
  kAwsAccessKey,  // "aws_access_key": AKIA/ASIA/ABIA/ACCA + 16 upper-case
                  // alnum
  kBearerToken,  // "bearer_token": JWTs (eyJ….eyJ….sig) and the value after
                 // "Bearer "
  kPemPrivateKey,  // "pem_private_key": -----BEGIN … PRIVATE KEY----- blocks
};

// Stable snake_case names, as in the policy file and in masked values.
absl::string_view DetectorName(Detector d);
std::optional<Detector> ParseDetector(absl::string_view name);
// Every detector, in enum order.
std::vector<Detector> AllDetectors();

// Masks whatever `path` selects, showing `label` as the TYPE.
struct MaskPathRule {
  // A JSONPath subset: "$" then any of ".name", "['name']", "[N]", "[*]",
  // ".*" (e.g. "$.rows[*].email", "$.auth['api-key']"). Selecting nothing is
  // not an error.
  std::string path;
  // Letters, digits and _ only, 1-32 bytes. Default "redacted".
  std::string label = "redacted";
};

struct MaskingOptions {
  std::vector<MaskPathRule> paths;                   // default: none
  std::vector<Detector> detectors = AllDetectors();  // default: all
};

// INVALID_ARGUMENT saying what is wrong at which character when `path` is
// not in the subset above.
absl::Status ValidateJsonPath(absl::string_view path);

// INVALID_ARGUMENT naming `label` unless it is 1-32 bytes of letters, digits
// and _ (the rule for MaskPathRule::label).
absl::Status ValidateMaskLabel(absl::string_view label);

// Minimum HMAC key length in bytes.
inline constexpr size_t kMinFingerprintKeyBytes = 32;

class Masker final {
 public:
  // INVALID_ARGUMENT when a path or label is invalid (the message names the
  // rule by its path) or `fingerprint_key` is shorter than
  // kMinFingerprintKeyBytes.
  static absl::StatusOr<std::unique_ptr<Masker>> Create(
      MaskingOptions options, std::string fingerprint_key);

  // The masked preview of `canonical_json` (a JSON object, as produced by
  // CanonicalizeJsonObject), in canonical form. Path rules apply first; the
  // detectors then run over every remaining string, object key and integer.
  // INVALID_ARGUMENT if the input is not a JSON object, or if two of its keys
  // would mask to the same preview key (only possible when a key already
  // spells another key's masked form).
  absl::StatusOr<std::string> MaskParameters(
      absl::string_view canonical_json) const;

  // `text` with every detector match masked (path rules do not apply).
  std::string MaskText(absl::string_view text) const;

  // The 16-hex-character fingerprint of `value_bytes`.
  std::string Fingerprint(absl::string_view value_bytes) const;

 private:
  Masker(MaskingOptions options, std::string key);

  const MaskingOptions options_;
  const std::string key_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_MASKING_H_
