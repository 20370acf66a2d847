#include "server/store/page_token.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/domain/validation.h"

namespace approval {
namespace {

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in Unix
// microseconds: google.protobuf.Timestamp's range, well inside PostgreSQL's.
constexpr int64_t kMinMicros = -62135596800LL * 1000000;
constexpr int64_t kMaxMicros = 253402300799LL * 1000000 + 999999;

absl::Status NotAToken(absl::string_view token) {
  return absl::InvalidArgumentError(
      absl::StrCat("page_token: \"", absl::CHexEscape(token.substr(0, 64)),
                   token.size() > 64 ? "..." : "",
                   "\" is not a token from a previous page"));
}

// A decimal integer as this code writes it: an optional '-' (if
// `allow_negative`), then "0" or digits without a leading zero.
std::optional<int64_t> ParseCanonicalInt(absl::string_view s,
                                         bool allow_negative) {
  absl::string_view digits = s;
  if (allow_negative && !digits.empty() && digits[0] == '-') {
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.size() > 19 ||
      (digits.size() > 1 && digits[0] == '0') ||
      (digits.size() != s.size() && digits == "0")) {
    return std::nullopt;
  }
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
  }
  int64_t v;
  if (!absl::SimpleAtoi(s, &v)) return std::nullopt;  // overflow
  return v;
}

}  // namespace

std::string ApprovalPageToken(absl::Time created_at, absl::string_view id) {
  return absl::StrCat(absl::ToUnixMicros(created_at), "_", id);
}

absl::StatusOr<ApprovalPagePosition> ParseApprovalPageToken(
    absl::string_view token) {
  const size_t sep = token.find('_');
  if (sep == absl::string_view::npos) return NotAToken(token);
  std::optional<int64_t> us =
      ParseCanonicalInt(token.substr(0, sep), /*allow_negative=*/true);
  absl::string_view id = token.substr(sep + 1);
  if (!us.has_value() || *us < kMinMicros || *us > kMaxMicros ||
      !ValidateApprovalId(id).ok()) {
    return NotAToken(token);
  }
  return ApprovalPagePosition{*us, std::string(id)};
}

std::string AuditPageToken(int64_t seq) { return absl::StrCat(seq); }

absl::StatusOr<int64_t> ParseAuditPageToken(absl::string_view token) {
  std::optional<int64_t> seq =
      ParseCanonicalInt(token, /*allow_negative=*/false);
  if (!seq.has_value() || *seq < 1) return NotAToken(token);
  return *seq;
}

}  // namespace approval
