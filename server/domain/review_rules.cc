#include "server/domain/review_rules.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/domain/audit_details.h"
#include "server/domain/refusal_reason.h"

namespace approval {
namespace {

std::string Upper(absl::string_view s) {
  return absl::AsciiStrToUpper(std::string(s));
}

bool InAnyGroup(const std::vector<std::string>& actor_groups,
                const std::vector<std::string>& wanted) {
  for (const std::string& g : actor_groups) {
    if (std::find(wanted.begin(), wanted.end(), g) != wanted.end()) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool IsSelfApproval(const Approval& a, absl::string_view actor) {
  return a.requester == actor ||
         (!a.on_behalf_of.empty() && a.on_behalf_of == actor);
}

absl::Status CheckDecision(const Approval& a, absl::string_view actor,
                           absl::Time now) {
  if (a.requester == actor) {
    return WithRefusalReason(
        absl::PermissionDeniedError(absl::StrCat(
            "self-approval refused: ", actor, " requested approval ", a.id,
            "; another reviewer must decide")),
        "self_approval");
  }
  if (IsSelfApproval(a, actor)) {
    return WithRefusalReason(
        absl::PermissionDeniedError(absl::StrCat(
            "self-approval refused: ", actor, " is the human behind ",
            a.requester, ", which requested approval ", a.id,
            " on their behalf; another reviewer must decide")),
        "on_behalf_of_self_approval");
  }
  if (IsTerminal(a.state)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "approval ", a.id, " is already ", Upper(StateName(a.state))));
  }
  if (now >= a.expires_at) {
    return absl::FailedPreconditionError(absl::StrCat(
        "approval ", a.id, " expired at ", FormatTimestamp(a.expires_at)));
  }
  return absl::OkStatus();
}

absl::Status CheckReview(const Approval& a, absl::string_view actor,
                         const std::vector<std::string>& actor_groups,
                         absl::Time now) {
  if (absl::Status s = CheckDecision(a, actor, now); !s.ok()) return s;
  const std::vector<std::string>& wanted = a.requirement.reviewer_groups;
  if (!wanted.empty() && !InAnyGroup(actor_groups, wanted) &&
      !(a.escalated_at.has_value() &&
        InAnyGroup(actor_groups, a.requirement.escalate_to))) {
    std::string escalation;
    if (!a.requirement.escalate_to.empty()) {
      escalation = absl::StrCat(
          a.escalated_at.has_value() ? " (escalated to [" : " (escalates to [",
          absl::StrJoin(a.requirement.escalate_to, ", "), "] ",
          a.escalated_at.has_value()
              ? absl::StrCat("at ", FormatTimestamp(*a.escalated_at))
              : absl::StrCat("at ",
                             FormatTimestamp(a.created_at +
                                             a.requirement.escalate_after),
                             " if still pending"),
          ")");
    }
    return WithRefusalReason(
        absl::PermissionDeniedError(
            absl::StrCat(actor, " may not review approval ", a.id, ": rule \"",
                         a.requirement.rule, "\" needs a member of [",
                         absl::StrJoin(wanted, ", "), "]", escalation)),
        "not_in_reviewer_groups");
  }
  for (const Review& r : a.reviews) {
    if (r.reviewer == actor) {
      return absl::AlreadyExistsError(absl::StrCat(
          actor, " already reviewed approval ", a.id, " (",
          VerdictName(r.verdict), " at ", FormatTimestamp(r.reviewed_at),
          "); each person counts once"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRelay(const Approval& a, absl::string_view relay,
                        const std::vector<std::string>& rules_refusing_relays) {
  if (relay.empty()) return absl::OkStatus();
  if (std::find(rules_refusing_relays.begin(), rules_refusing_relays.end(),
                a.requirement.rule) == rules_refusing_relays.end()) {
    return absl::OkStatus();
  }
  return WithRefusalReason(
      absl::PermissionDeniedError(absl::StrCat(
          "approval ", a.id, " (rule \"", a.requirement.rule,
          "\") cannot be reviewed through a chat bot; decide it with your own "
          "credentials")),
      "relay_not_allowed");
}

bool IsAuditedRefusal(const absl::Status& s) {
  return s.code() == absl::StatusCode::kPermissionDenied ||
         s.code() == absl::StatusCode::kAlreadyExists;
}

int ApproveCount(const Approval& a) {
  int n = 0;
  for (const Review& r : a.reviews) {
    if (r.verdict == Verdict::kApprove) ++n;
  }
  return n;
}

int ApprovalsMissing(const Approval& a) {
  if (IsTerminal(a.state)) return 0;
  return std::max(0, a.requirement.approvals_required - ApproveCount(a));
}

std::optional<State> QuorumOutcome(const Approval& a) {
  if (a.requirement.deny_ends) {
    for (const Review& r : a.reviews) {
      if (r.verdict == Verdict::kDeny) return State::kDenied;
    }
  }
  if (ApproveCount(a) >= a.requirement.approvals_required) {
    return State::kApproved;
  }
  return std::nullopt;
}

std::vector<std::string> ApproversOf(const Approval& a) {
  std::vector<std::string> out;
  for (const Review& r : a.reviews) {
    if (r.verdict == Verdict::kApprove) out.push_back(r.reviewer);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::Status CheckCancel(const Approval& a, absl::string_view actor) {
  if (a.requester != actor) {
    return WithRefusalReason(
        absl::PermissionDeniedError(
            absl::StrCat("only the requester may cancel approval ", a.id)),
        "not_requester");
  }
  if (IsTerminal(a.state)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "approval ", a.id, " is already ", Upper(StateName(a.state))));
  }
  return absl::OkStatus();
}

}  // namespace approval
