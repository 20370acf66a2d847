#include "server/domain/refusal_reason.h"

#include "absl/strings/cord.h"

namespace approval {

absl::Status WithRefusalReason(absl::Status s, absl::string_view reason) {
  if (!s.ok()) s.SetPayload(kRefusalReasonUrl, absl::Cord(reason));
  return s;
}

std::string RefusalReason(const absl::Status& s) {
  absl::optional<absl::Cord> reason = s.GetPayload(kRefusalReasonUrl);
  return reason.has_value() ? std::string(*reason) : std::string();
}

}  // namespace approval
