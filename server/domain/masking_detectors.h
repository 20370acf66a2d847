// The masking detectors (masking.h lists them): scanners that find
// sensitive patterns in a string. Internal to the domain library: masking.cc
// is their one user; the policy and the service see only masking.h.
#ifndef APPROVAL_SERVER_DOMAIN_MASKING_DETECTORS_H_
#define APPROVAL_SERVER_DOMAIN_MASKING_DETECTORS_H_

#include <array>
#include <cstddef>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/domain/masking.h"

namespace approval {

inline constexpr size_t kDetectorCount = 7;

// Which detectors run, indexed by the Detector's value.
using DetectorSet = std::array<bool, kDetectorCount>;
DetectorSet EnabledDetectors(const std::vector<Detector>& detectors);
inline bool IsOn(const DetectorSet& enabled, Detector d) {
  return enabled[static_cast<size_t>(d)];
}

// A sensitive byte range [begin, end) of a text.
struct DetectorMatch {
  size_t begin;
  size_t end;
  Detector type;
};

// Every enabled detector's matches in `text`, sorted and with overlapping
// matches merged into one (named after its longest part), so that no part
// of any match is left visible. Linear in the text: parameters of up to
// 64 KiB are attacker-controlled.
std::vector<DetectorMatch> FindDetectorMatches(absl::string_view text,
                                               const DetectorSet& enabled);

// True when `digits` (digits only) is 13-19 digits passing the Luhn check:
// how integers are checked for payment cards.
bool IsCardNumber(absl::string_view digits);

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_MASKING_DETECTORS_H_
