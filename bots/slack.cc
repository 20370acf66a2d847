#include "bots/slack.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bots/approval_text.h"

namespace approval::chat {
namespace {

using Json = nlohmann::json;

// Percent-decoding of application/x-www-form-urlencoded ('+' is a space).
absl::StatusOr<std::string> FormDecode(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) {
        return absl::InvalidArgumentError("body: truncated %-escape");
      }
      const std::string hex(in.substr(i + 1, 2));
      if (hex.size() != 2 || !absl::ascii_isxdigit(hex[0]) ||
          !absl::ascii_isxdigit(hex[1])) {
        return absl::InvalidArgumentError("body: bad %-escape");
      }
      out.push_back(static_cast<char>(std::strtol(hex.c_str(), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Text from the approval as Slack mrkdwn shows it literally: &, < and > are
// escaped (so no <!channel> or <url|label> can be smuggled in) and a
// backtick cannot close a code span. At most `max` bytes once escaped (an
// entity is never cut), so that escaping cannot take a block past Slack's
// limits (3000 characters per section text, 2000 per field).
std::string Escape(absl::string_view s, size_t max = 1000) {
  std::string out;
  for (char c : ValidUtf8(s)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '`':
        out += "'";
        break;
      default:
        out.push_back(c);
    }
  }
  if (out.size() <= max) return out;
  size_t end = max - 3;  // room for "…" (3 bytes)
  while (end > 0 && (static_cast<unsigned char>(out[end]) & 0xC0) == 0x80) {
    --end;
  }
  const size_t amp = end > 0 ? out.rfind('&', end - 1) : std::string::npos;
  if (amp != std::string::npos && out.find(';', amp) >= end) end = amp;
  out.resize(end);
  return out + "…";
}

// What the rule still needs, groups escaped.
std::string Needs(const v1::Requirement& r) {
  return chat::Needs(r, [](absl::string_view g) { return Escape(g); });
}

std::string Time(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

Json Mrkdwn(const std::string& text) {
  return {{"type", "mrkdwn"}, {"text", text}};
}

Json Section(const std::string& text) {
  return {{"type", "section"}, {"text", Mrkdwn(text)}};
}

Json Button(const std::string& label, const char* action_id,
            const std::string& value, const char* style) {
  return {{"type", "button"},
          {"text", {{"type", "plain_text"}, {"text", label}}},
          {"action_id", action_id},
          {"value", value},
          {"style", style}};
}

}  // namespace

std::string SlackSignatureVerifier::Sign(absl::string_view secret,
                                         absl::string_view timestamp,
                                         absl::string_view body) {
  const std::string base = absl::StrCat("v0:", timestamp, ":", body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(base.data()), base.size(),
           mac, &len) == nullptr) {
    std::abort();  // HMAC-SHA256 over memory cannot fail
  }
  return absl::StrCat("v0=", absl::BytesToHexString(absl::string_view(
                                 reinterpret_cast<const char*>(mac), len)));
}

absl::Status SlackSignatureVerifier::Verify(absl::string_view timestamp,
                                            absl::string_view signature,
                                            absl::string_view body,
                                            absl::Time now) {
  if (body.size() > max_body_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "body: ", body.size(), " bytes, limit is ", max_body_bytes_));
  }
  int64_t seconds = 0;
  if (timestamp.empty() || timestamp.size() > 12 ||
      !absl::SimpleAtoi(timestamp, &seconds)) {
    return absl::UnauthenticatedError(
        "X-Slack-Request-Timestamp: missing or not Unix seconds");
  }
  const absl::Time signed_at = absl::FromUnixSeconds(seconds);
  if (absl::AbsDuration(now - signed_at) > tolerance_) {
    return absl::UnauthenticatedError(
        "X-Slack-Request-Timestamp: outside the accepted window");
  }
  const std::string expected = Sign(secret_, timestamp, body);
  if (signature.size() != expected.size() ||
      CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) != 0) {
    return absl::UnauthenticatedError("X-Slack-Signature: does not verify");
  }
  absl::MutexLock lock(&mu_);
  for (auto it = seen_.begin(); it != seen_.end();) {
    it = it->second < now ? seen_.erase(it) : std::next(it);
  }
  // A signature can pass again only while its timestamp is in the window.
  if (!seen_.emplace(std::string(signature), signed_at + tolerance_).second) {
    return absl::AlreadyExistsError("X-Slack-Signature: replayed");
  }
  return absl::OkStatus();
}

namespace {

// `key` of `obj` when it is a string, else "".
std::string Str(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// `key` of `obj` when it is there, else an empty object.
const Json& Member(const Json& obj, const char* key) {
  static const Json* const kEmpty = new Json(Json::object());
  return obj.is_object() && obj.contains(key) ? obj[key] : *kEmpty;
}

// The payload JSON of a form-encoded interaction body.
absl::StatusOr<Json> InteractionPayload(absl::string_view body) {
  std::string payload_text;
  bool found = false;
  for (absl::string_view part : absl::StrSplit(body, '&')) {
    if (absl::StartsWith(part, "payload=")) {
      if (found) return absl::InvalidArgumentError("body: payload repeated");
      absl::StatusOr<std::string> decoded = FormDecode(part.substr(8));
      if (!decoded.ok()) return decoded.status();
      payload_text = *std::move(decoded);
      found = true;
    }
  }
  if (!found) return absl::InvalidArgumentError("body: no payload field");
  Json p = Json::parse(payload_text, nullptr, /*allow_exceptions=*/false);
  if (!p.is_object()) {
    return absl::InvalidArgumentError("payload: not a JSON object");
  }
  return p;
}

// Who clicked where: team, user and channel, each a Slack id (they become
// the platform identity slack:<team>/<user>, so nothing else may pass).
absl::Status ReadWho(const Json& p, SlackClick& click) {
  const Json& user = Member(p, "user");
  click.user_id = Str(user, "id");
  click.team_id = Str(Member(p, "team"), "id");
  if (click.team_id.empty()) click.team_id = Str(user, "team_id");
  click.channel_id = Str(Member(p, "channel"), "id");
  click.message_ts = Str(Member(p, "container"), "message_ts");
  if (!ValidSlackId(click.user_id)) {
    return absl::InvalidArgumentError(
        "payload.user.id: missing or not a Slack id");
  }
  if (!ValidSlackId(click.team_id)) {
    return absl::InvalidArgumentError(
        "payload.team.id: missing or not a Slack id");
  }
  return absl::OkStatus();
}

absl::Status CheckApprovalId(const std::string& id, const char* where) {
  if (id.empty() || id.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": bad approval id"));
  }
  return absl::OkStatus();
}

// The submitted Deny reason dialog.
absl::Status ReadDenyReason(const Json& p, SlackClick& click) {
  const Json& view = Member(p, "view");
  if (Str(view, "callback_id") != kDenyReasonCallbackId) {
    return absl::UnimplementedError("payload.view: not our dialog");
  }
  const Json meta = Json::parse(Str(view, "private_metadata"), nullptr, false);
  click.kind = SlackClick::Kind::kDenyReason;
  click.verdict = v1::DENY;
  click.approval_id = Str(meta, "approval_id");
  click.channel_id = Str(meta, "channel");
  if (absl::Status s =
          CheckApprovalId(click.approval_id, "payload.view.private_metadata");
      !s.ok()) {
    return s;
  }
  const Json& value = Member(
      Member(Member(Member(view, "state"), "values"), kDenyReasonBlockId),
      kDenyReasonActionId);
  if (!value.is_object() || value.empty()) {
    return absl::InvalidArgumentError(
        "payload.view.state.values.reason: missing");
  }
  click.comment = Str(value, "value");
  return absl::OkStatus();
}

// The Approve or Deny button.
absl::Status ReadButton(const Json& p, SlackClick& click) {
  click.trigger_id = Str(p, "trigger_id");
  if (!p.contains("actions") || !p["actions"].is_array() ||
      p["actions"].size() != 1) {
    return absl::InvalidArgumentError("payload.actions: expected one action");
  }
  const Json& action = p["actions"][0];
  const std::string action_id = Str(action, "action_id");
  if (action_id == kApproveActionId) {
    click.verdict = v1::APPROVE;
  } else if (action_id == kDenyActionId) {
    click.verdict = v1::DENY;
  } else {
    return absl::InvalidArgumentError("payload.actions[0].action_id: unknown");
  }
  click.approval_id = Str(action, "value");
  return CheckApprovalId(click.approval_id, "payload.actions[0].value");
}

}  // namespace

absl::StatusOr<SlackClick> ParseSlackInteraction(absl::string_view body) {
  absl::StatusOr<Json> p = InteractionPayload(body);
  if (!p.ok()) return p.status();
  const std::string type = Str(*p, "type");
  if (type != "block_actions" && type != "view_submission") {
    return absl::UnimplementedError(
        absl::StrCat("payload.type: ", Shorten(type, 40), " is not handled"));
  }
  SlackClick click;
  if (absl::Status s = ReadWho(*p, click); !s.ok()) return s;
  absl::Status s = type == "view_submission" ? ReadDenyReason(*p, click)
                                             : ReadButton(*p, click);
  if (!s.ok()) return s;
  if (!click.channel_id.empty() && !ValidSlackId(click.channel_id)) {
    return absl::InvalidArgumentError("payload.channel.id: not a Slack id");
  }
  return click;
}

std::string ChannelFor(const v1::Approval& approval, const SlackConfig& slack) {
  const v1::Requirement& r = approval.requirement();
  for (const SlackRoute& route : slack.routes) {
    if (!route.rule.empty() && route.rule == r.rule()) return route.channel;
    if (!route.reviewer_group.empty()) {
      for (const std::string& g : r.reviewer_groups()) {
        if (g == route.reviewer_group) return route.channel;
      }
    }
  }
  return slack.default_channel;
}

nlohmann::json RenderSlackMessage(const v1::Approval& a) {
  const bool pending = a.state() == v1::PENDING;
  const std::string what = absl::StrCat("`", Escape(a.action(), 200), "` on `",
                                        Escape(a.resource(), 500), "`");
  Json blocks = Json::array();
  blocks.push_back(Section(
      absl::StrCat(pending ? "*Approval needed:* "
                           : absl::StrCat("*", StateWord(a.state()), ":* "),
                   what)));
  Json fields = Json::array();
  fields.push_back(
      Mrkdwn(absl::StrCat("*Requested by*\n", Escape(a.requester(), 200))));
  if (!a.on_behalf_of().empty()) {
    fields.push_back(Mrkdwn(
        absl::StrCat("*On behalf of*\n", Escape(a.on_behalf_of(), 200))));
  }
  fields.push_back(
      Mrkdwn(absl::StrCat("*Rule*\n", Escape(a.requirement().rule(), 200), ": ",
                          Needs(a.requirement()))));
  fields.push_back(Mrkdwn(absl::StrCat("*Expires*\n", Time(a.expire_time()))));
  blocks.push_back({{"type", "section"}, {"fields", fields}});
  if (!a.justification().empty()) {
    blocks.push_back(
        Section(absl::StrCat("*Justification*\n", Escape(a.justification()))));
  }
  blocks.push_back(Section(absl::StrCat(
      "*Parameters (masked preview)*\n```",
      Escape(a.parameters_preview_json().empty() ? "{}"
                                                 : a.parameters_preview_json(),
             2500),
      "```")));
  const std::string reviews =
      ReviewsLine(a, [](absl::string_view name) { return Escape(name, 100); });
  if (pending) {
    std::string progress = reviews.empty() ? "No reviews yet" : reviews;
    absl::StrAppend(&progress, " · ", a.approvals_missing(), " more needed");
    blocks.push_back({{"type", "context"}, {"elements", {Mrkdwn(progress)}}});
    // The broker's ids are ASCII; anything else must still serialize.
    const std::string id = ValidUtf8(a.id());
    blocks.push_back({{"type", "actions"},
                      {"block_id", "approval_decision"},
                      {"elements",
                       {Button("Approve", kApproveActionId, id, "primary"),
                        Button("Deny", kDenyActionId, id, "danger")}}});
  } else {
    std::string outcome = absl::StrCat("*", StateWord(a.state()), "*");
    if (!a.decided_by().empty()) {
      absl::StrAppend(&outcome, " by ", Escape(a.decided_by(), 200));
    }
    if (!reviews.empty()) {
      absl::StrAppend(&outcome, " (", reviews, ")");
    }
    if (!a.decision_comment().empty()) {
      absl::StrAppend(&outcome, ": ", Escape(a.decision_comment(), 500));
    }
    blocks.push_back(Section(outcome));
  }
  const std::string text =
      absl::StrCat(pending ? "Approval needed" : StateWord(a.state()), ": ",
                   Escape(a.action(), 200), " on ", Escape(a.resource(), 500),
                   " requested by ", Escape(a.requester(), 200));
  return {{"text", text}, {"blocks", blocks}};
}

nlohmann::json RenderDenyReasonModal(const SlackClick& click) {
  const Json meta = {{"approval_id", click.approval_id},
                     {"channel", click.channel_id}};
  return {{"type", "modal"},
          {"callback_id", kDenyReasonCallbackId},
          {"private_metadata", meta.dump()},
          {"title", {{"type", "plain_text"}, {"text", "Deny approval"}}},
          {"submit", {{"type", "plain_text"}, {"text", "Deny"}}},
          {"close", {{"type", "plain_text"}, {"text", "Cancel"}}},
          {"blocks",
           {{{"type", "input"},
             {"block_id", kDenyReasonBlockId},
             {"label", {{"type", "plain_text"}, {"text", "Why deny it?"}}},
             {"element",
              {{"type", "plain_text_input"},
               {"action_id", kDenyReasonActionId},
               {"multiline", true},
               {"max_length", 1000}}}}}}};
}

std::string RefusalText(const absl::Status& refusal) {
  return RefusalText(refusal, [](absl::string_view m) { return Escape(m); });
}

nlohmann::json SlackApprovalMetadata(const std::string& approval_id) {
  return {{"event_type", kApprovalEventType},
          {"event_payload", {{"approval_id", approval_id}}}};
}

std::optional<std::string> FindApprovalMessage(const nlohmann::json& messages,
                                               absl::string_view bot_id,
                                               absl::string_view approval_id) {
  if (!messages.is_array() || bot_id.empty()) return std::nullopt;
  auto text = [](const nlohmann::json& o, const char* key) -> std::string {
    if (!o.is_object()) return "";
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : "";
  };
  for (const nlohmann::json& m : messages) {
    if (text(m, "bot_id") != bot_id || text(m, "ts").empty()) continue;
    auto metadata = m.find("metadata");
    if (metadata == m.end() ||
        text(*metadata, "event_type") != kApprovalEventType) {
      continue;
    }
    auto payload = metadata->find("event_payload");
    if (payload != metadata->end() &&
        text(*payload, "approval_id") == approval_id) {
      return text(m, "ts");
    }
  }
  return std::nullopt;
}

}  // namespace approval::chat
