// How approval-chat shows an approval (bots/slack.h RenderSlackMessage,
// bots/teams.h RenderTeamsCard, TeamsCardActivity, TeamsInvokeResponse) and
// a refusal (RefusalText, TeamsRefusalText), for approvals holding any
// bytes: invalid UTF-8, NUL and control bytes, markup, very long text.
//
// Input: split by FuzzedDataProvider into the approval's state, numbers and
// text fields, its reviews, and a notice.
// Invariants: every document serializes with nlohmann's strict dump() (it
// throws on invalid UTF-8, which would stop the app's stream); the Slack
// message's texts hold no '<' or '>' (text from the request cannot mention a
// channel or link), no section text over Slack's 3000 characters and no
// field over its 2000; Approve and Deny buttons (and Action.Execute)
// exactly while PENDING, carrying the approval id when it is valid UTF-8.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "bots/slack.h"
#include "bots/teams.h"
#include "fuzz/fuzz_check.h"
#include "server/domain/text.h"

namespace {

using Json = nlohmann::json;

std::string Dump(const Json& j, const char* what) {
  try {
    return j.dump();
  } catch (const Json::exception& e) {
    FUZZ_CHECK(false, "%s: dump() threw %s", what, e.what());
  }
  return "";
}

// Characters (not bytes) in valid UTF-8 `s`.
size_t Characters(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Every text Slack shows in `j` (the "text" members) has no '<' or '>';
// a button's value is not shown.
void CheckNoAngles(const Json& j) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key == "text" && value.is_string()) {
        const std::string& s = value.get_ref<const std::string&>();
        FUZZ_CHECK(s.find_first_of("<>") == std::string::npos,
                   "Slack text with '<' or '>': %s", s.c_str());
      } else {
        CheckNoAngles(value);
      }
    }
  } else if (j.is_array()) {
    for (const Json& v : j) CheckNoAngles(v);
  }
}

approval::v1::Approval MakeApproval(FuzzedDataProvider& in) {
  approval::v1::Approval a;
  a.set_state(
      static_cast<approval::v1::State>(in.ConsumeIntegralInRange(0, 6)));
  a.set_approvals_missing(in.ConsumeIntegral<int32_t>());
  a.mutable_requirement()->set_approvals_required(
      in.ConsumeIntegral<int32_t>());
  a.mutable_expire_time()->set_seconds(in.ConsumeIntegral<int64_t>());
  a.set_id(in.ConsumeRandomLengthString(80));
  a.set_action(in.ConsumeRandomLengthString());
  a.set_resource(in.ConsumeRandomLengthString());
  a.set_justification(in.ConsumeRandomLengthString());
  a.set_requester(in.ConsumeRandomLengthString());
  a.set_on_behalf_of(in.ConsumeRandomLengthString());
  a.set_parameters_preview_json(in.ConsumeRandomLengthString());
  // Rule and group names come from the policy file: at most 64 bytes.
  a.mutable_requirement()->set_rule(in.ConsumeRandomLengthString(64));
  const int groups = in.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < groups; ++i) {
    a.mutable_requirement()->add_reviewer_groups(
        in.ConsumeRandomLengthString(64));
  }
  a.set_decided_by(in.ConsumeRandomLengthString());
  a.set_decision_comment(in.ConsumeRandomLengthString());
  const int reviews = in.ConsumeIntegralInRange(0, 4);
  for (int i = 0; i < reviews; ++i) {
    approval::v1::Review* r = a.add_reviews();
    r->set_reviewer(in.ConsumeRandomLengthString());
    r->set_verdict(in.ConsumeBool() ? approval::v1::APPROVE
                                    : approval::v1::DENY);
  }
  return a;
}

void CheckSlack(const approval::v1::Approval& a) {
  const Json message = approval::chat::RenderSlackMessage(a);
  Dump(message, "RenderSlackMessage");
  CheckNoAngles(message);
  bool buttons = false;
  for (const Json& block : message["blocks"]) {
    if (block["type"] == "section" && block.contains("text")) {
      const std::string& text =
          block["text"]["text"].get_ref<const std::string&>();
      FUZZ_CHECK(Characters(text) <= 3000, "section text of %zu characters",
                 Characters(text));
    }
    if (block.contains("fields")) {
      for (const Json& field : block["fields"]) {
        const std::string& text = field["text"].get_ref<const std::string&>();
        FUZZ_CHECK(Characters(text) <= 2000, "field text of %zu characters",
                   Characters(text));
      }
    }
    if (block["type"] == "actions") {
      buttons = true;
      FUZZ_CHECK(block["elements"].size() == 2, "not two buttons");
      if (approval::IsValidUtf8(a.id())) {
        for (const Json& button : block["elements"]) {
          FUZZ_CHECK(button["value"] == a.id(), "button without the id");
        }
      }
    }
  }
  FUZZ_CHECK(buttons == (a.state() == approval::v1::PENDING),
             "buttons %d in state %d", buttons, static_cast<int>(a.state()));
}

void CheckTeams(const approval::v1::Approval& a, const std::string& notice) {
  const Json card = approval::chat::RenderTeamsCard(a, notice);
  // The activity and the invoke answer both carry the card whole: dumping
  // the activity (what the connector sends) covers all three, at a third
  // of the cost.
  Dump(approval::chat::TeamsCardActivity(card), "TeamsCardActivity");
  FUZZ_CHECK(approval::chat::TeamsInvokeResponse(card)["value"].is_object(),
             "invoke answer without the card");
  const bool pending = a.state() == approval::v1::PENDING;
  FUZZ_CHECK(card.contains("actions") == pending, "actions %d in state %d",
             card.contains("actions"), static_cast<int>(a.state()));
  if (pending && approval::IsValidUtf8(a.id())) {
    for (const Json& action : card["actions"]) {
      FUZZ_CHECK(action["data"]["approval_id"] == a.id(),
                 "Action.Execute without the id");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const approval::v1::Approval a = MakeApproval(in);
  const std::string notice = in.ConsumeRemainingBytesAsString();
  CheckSlack(a);
  CheckTeams(a, notice);
  const absl::Status refusal = absl::PermissionDeniedError(notice);
  Dump(Json(approval::chat::RefusalText(refusal)), "RefusalText");
  Dump(Json(approval::chat::TeamsRefusalText(refusal)), "TeamsRefusalText");
  return 0;
}
