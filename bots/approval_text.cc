#include "bots/approval_text.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/domain/text.h"

namespace approval::chat {

std::string ValidUtf8(absl::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
    const unsigned char lead = static_cast<unsigned char>(s[i]);
    const size_t n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (i + n <= s.size() && IsValidUtf8(s.substr(i, n))) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

std::string Shorten(absl::string_view in, size_t max) {
  const std::string valid = ValidUtf8(in);
  const absl::string_view s = valid;
  if (s.size() <= max) return valid;
  size_t end = max - 3;  // room for "…" (3 bytes)
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return absl::StrCat(s.substr(0, end), "…");
}

std::string StateWord(v1::State state) {
  switch (state) {
    case v1::PENDING:
      return "Pending";
    case v1::APPROVED:
      return "Approved";
    case v1::DENIED:
      return "Denied";
    case v1::EXPIRED:
      return "Expired";
    case v1::CANCELLED:
      return "Cancelled";
    default:
      return "Closed";
  }
}

std::string Needs(const v1::Requirement& requirement, const EscapeFn& escape) {
  const int required = requirement.approvals_required();
  std::string out =
      absl::StrCat(required, required == 1 ? " approval" : " approvals");
  if (requirement.reviewer_groups().empty()) {
    absl::StrAppend(&out, " from any reviewer");
  } else {
    std::vector<std::string> groups;
    for (const std::string& g : requirement.reviewer_groups()) {
      groups.push_back(escape(g));
    }
    absl::StrAppend(&out, " from ", absl::StrJoin(groups, ", "));
  }
  return out;
}

std::string ReviewsLine(const v1::Approval& approval, const EscapeFn& escape) {
  std::vector<std::string> named;
  for (const v1::Review& r : approval.reviews()) {
    if (static_cast<int>(named.size()) == kReviewsShown) break;
    named.push_back(
        absl::StrCat(escape(r.reviewer()),
                     r.verdict() == v1::APPROVE ? " approved" : " denied"));
  }
  std::string line = absl::StrJoin(named, " · ");
  if (approval.reviews_size() > kReviewsShown) {
    absl::StrAppend(&line, " · and ", approval.reviews_size() - kReviewsShown,
                    " more");
  }
  return line;
}

std::string RefusalText(const absl::Status& refusal, const EscapeFn& escape) {
  switch (refusal.code()) {
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
      return absl::StrCat("Your click was not recorded: ",
                          escape(Shorten(refusal.message(), 500)));
    default:
      return "Your click was not recorded: the approval broker could not be "
             "reached; try again in a moment.";
  }
}

}  // namespace approval::chat
