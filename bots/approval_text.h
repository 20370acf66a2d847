// Words about an approval that every chat platform shows the same way:
// its state, what its rule still needs, why a click did nothing. Each
// platform passes its own `escape`, which makes text that came from a
// request (or from the broker) literal in that platform's markup.
#ifndef APPROVAL_BOTS_APPROVAL_TEXT_H_
#define APPROVAL_BOTS_APPROVAL_TEXT_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "approval/v1/approval.pb.h"

namespace approval::chat {

using EscapeFn = std::function<std::string(absl::string_view)>;

// `s` with each byte that is not part of well-formed UTF-8 (RFC 3629)
// replaced by U+FFFD, as the broker's log does: text every JSON writer can
// write (nlohmann's dump() throws on invalid UTF-8, which would stop the
// app's stream on the approval that holds it).
std::string ValidUtf8(absl::string_view s);

// ValidUtf8(s) cut to at most `max` bytes (max >= 4) on a character
// boundary, "…" marking a cut: any bytes in, valid UTF-8 out.
std::string Shorten(absl::string_view s, size_t max);

// "Pending", "Approved", "Denied", "Expired", "Cancelled"; "Closed" for a
// state this build does not know.
std::string StateWord(v1::State state);

// "2 approvals from data-team, security" (or "from any reviewer"), each
// group passed through `escape`.
std::string Needs(const v1::Requirement& requirement, const EscapeFn& escape);

// At most this many reviews are named on a message or card.
inline constexpr int kReviewsShown = 10;

// The reviews so far: "alice approved · bob denied", each reviewer passed
// through `escape` (which must bound its length); past kReviewsShown
// reviews, the first ones and "and N more", so that a rule with many
// reviewers cannot take a message past the platforms' size limits. ""
// when there are none.
std::string ReviewsLine(const v1::Approval& approval, const EscapeFn& escape);

// What the person who clicked is told when the broker refused the click:
// its reason (through `escape`, at most 500 bytes) when the broker gave one
// for them, else that it could not be reached.
std::string RefusalText(const absl::Status& refusal, const EscapeFn& escape);

}  // namespace approval::chat

#endif  // APPROVAL_BOTS_APPROVAL_TEXT_H_
