#include "server/auth/refusal.h"

#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/domain/refusal_reason.h"

namespace approval {
namespace {

constexpr size_t kMaxLogValue = 80;

absl::Status Refusal(absl::StatusCode code, absl::string_view reason,
                     absl::string_view message, absl::string_view detail) {
  absl::Status s = WithRefusalReason(absl::Status(code, message), reason);
  if (!detail.empty()) s.SetPayload(kRefusalDetailUrl, absl::Cord(detail));
  return s;
}

}  // namespace

absl::Status Unauthenticated(absl::string_view reason,
                             absl::string_view message,
                             absl::string_view detail) {
  return Refusal(absl::StatusCode::kUnauthenticated, reason, message, detail);
}

absl::Status PermissionDenied(absl::string_view reason,
                              absl::string_view message,
                              absl::string_view detail) {
  return Refusal(absl::StatusCode::kPermissionDenied, reason, message, detail);
}

std::string RefusalDetail(const absl::Status& s) {
  absl::optional<absl::Cord> detail = s.GetPayload(kRefusalDetailUrl);
  return detail.has_value() ? std::string(*detail) : std::string();
}

std::string ForLog(absl::string_view value) {
  const bool cut = value.size() > kMaxLogValue;
  return absl::StrCat("\"", absl::CHexEscape(value.substr(0, kMaxLogValue)),
                      cut ? "...\"" : "\"");
}

}  // namespace approval
