#include "server/store/error_detail.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace approval {

absl::Status WithDatabaseDetail(absl::Status s, absl::string_view detail) {
  if (!s.ok() && !detail.empty()) {
    s.SetPayload(kDatabaseDetailUrl, absl::Cord(detail));
  }
  return s;
}

std::string DatabaseDetail(const absl::Status& s) {
  absl::optional<absl::Cord> detail = s.GetPayload(kDatabaseDetailUrl);
  return detail.has_value() ? std::string(*detail) : std::string();
}

std::string MessageWithDetail(const absl::Status& s) {
  const std::string detail = DatabaseDetail(s);
  return detail.empty() ? std::string(s.message())
                        : absl::StrCat(s.message(), " [", detail, "]");
}

}  // namespace approval
