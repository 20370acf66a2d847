// What approval-chat reads from Slack (bots/slack.h): the interaction
// request body (ParseSlackInteraction) and the request signature headers
// (SlackSignatureVerifier).
//
// Input: the raw request body, read whole by ParseSlackInteraction. The
// same bytes, split by FuzzedDataProvider, also give an
// X-Slack-Request-Timestamp, an X-Slack-Signature and a body for the
// verifier, which checks them once as sent and once signed correctly.
// Invariants: ParseSlackInteraction answers a click (OK), INVALID_ARGUMENT
// or UNIMPLEMENTED; a click has a user and team, a verdict APPROVE or DENY
// (DENY for the reason dialog), an approval id of 1..64 bytes, and every
// field valid UTF-8. The verifier answers OK, UNAUTHENTICATED,
// RESOURCE_EXHAUSTED (exactly when the body is over the limit) or
// ALREADY_EXISTS; a signature that is not Sign()'s never verifies; a
// correctly signed request verifies exactly when its timestamp is Unix
// seconds within the window, and its replay is ALREADY_EXISTS; no message
// quotes the secret or the expected signature.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "bots/slack.h"
#include "fuzz/fuzz_check.h"
#include "server/domain/text.h"

namespace {

using approval::chat::SlackClick;
using approval::chat::SlackSignatureVerifier;

constexpr char kSecret[] = "8f742231b10e8888abcd99yyyzzz85a5";
constexpr size_t kMaxBody = 2048;
const absl::Time kNow = absl::FromUnixSeconds(1700000000);
constexpr absl::Duration kTolerance = absl::Minutes(5);

void CheckParse(absl::string_view body) {
  absl::StatusOr<SlackClick> click =
      approval::chat::ParseSlackInteraction(body);
  if (!click.ok()) {
    const absl::StatusCode code = click.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
                   code == absl::StatusCode::kUnimplemented,
               "%s", click.status().ToString().c_str());
    return;
  }
  FUZZ_CHECK(!click->user_id.empty() && !click->team_id.empty(),
             "a click without user or team");
  FUZZ_CHECK(!click->approval_id.empty() && click->approval_id.size() <= 64,
             "approval id of %zu bytes", click->approval_id.size());
  if (click->kind == SlackClick::Kind::kDenyReason) {
    FUZZ_CHECK(click->verdict == approval::v1::DENY,
               "a reason dialog that is not DENY");
  } else {
    FUZZ_CHECK(click->verdict == approval::v1::APPROVE ||
                   click->verdict == approval::v1::DENY,
               "verdict %d", static_cast<int>(click->verdict));
  }
  for (const std::string* field :
       {&click->team_id, &click->user_id, &click->approval_id,
        &click->channel_id, &click->message_ts, &click->trigger_id,
        &click->comment}) {
    FUZZ_CHECK(approval::IsValidUtf8(*field), "a field is not valid UTF-8");
  }
}

void CheckNoSecret(const absl::Status& s, const std::string& expected) {
  FUZZ_CHECK(!absl::StrContains(s.message(), kSecret) &&
                 !absl::StrContains(s.message(), expected.substr(3)),
             "message quotes a secret: %s", s.ToString().c_str());
}

void CheckVerifier(FuzzedDataProvider& in) {
  const std::string timestamp = in.ConsumeRandomLengthString(24);
  const std::string signature = in.ConsumeRandomLengthString(80);
  const std::string body = in.ConsumeRemainingBytesAsString();
  const std::string expected =
      SlackSignatureVerifier::Sign(kSecret, timestamp, body);
  int64_t seconds = 0;
  const bool in_window =
      !timestamp.empty() && timestamp.size() <= 12 &&
      absl::SimpleAtoi(timestamp, &seconds) &&
      absl::AbsDuration(kNow - absl::FromUnixSeconds(seconds)) <= kTolerance;
  const bool too_large = body.size() > kMaxBody;

  SlackSignatureVerifier verifier(kSecret, kMaxBody, kTolerance);
  const absl::Status as_sent =
      verifier.Verify(timestamp, signature, body, kNow);
  CheckNoSecret(as_sent, expected);
  if (too_large) {
    FUZZ_CHECK(as_sent.code() == absl::StatusCode::kResourceExhausted, "%s",
               as_sent.ToString().c_str());
    return;
  }
  if (signature != expected) {
    FUZZ_CHECK(as_sent.code() == absl::StatusCode::kUnauthenticated,
               "a signature not made with the secret: %s",
               as_sent.ToString().c_str());
  }
  SlackSignatureVerifier fresh(kSecret, kMaxBody, kTolerance);
  const absl::Status signed_ok = fresh.Verify(timestamp, expected, body, kNow);
  CheckNoSecret(signed_ok, expected);
  FUZZ_CHECK(signed_ok.ok() == in_window,
             "correctly signed, timestamp \"%s\" (in window: %d): %s",
             timestamp.c_str(), in_window, signed_ok.ToString().c_str());
  if (signed_ok.ok()) {
    const absl::Status replay = fresh.Verify(timestamp, expected, body, kNow);
    FUZZ_CHECK(replay.code() == absl::StatusCode::kAlreadyExists,
               "a replay: %s", replay.ToString().c_str());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckParse(absl::string_view(reinterpret_cast<const char*>(data), size));
  FuzzedDataProvider in(data, size);
  CheckVerifier(in);
  return 0;
}
