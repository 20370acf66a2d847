#include "server/domain/audit_proof.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/domain/audit_details.h"

namespace approval {
namespace {

using Json = nlohmann::json;

// Problems kept in full; later ones are only counted.
constexpr size_t kMaxProblems = 100;

Json ParseDetails(const AuditEvent& e) {
  Json d = Json::parse(e.details_json, nullptr, /*allow_exceptions=*/false);
  return d.is_object() ? d : Json::object();
}

std::string StringField(const Json& d, const char* key) {
  auto it = d.find(key);
  return it != d.end() && it->is_string() ? it->get<std::string>() : "";
}

std::optional<absl::Time> TimeField(const Json& d, const char* key) {
  absl::Time t;
  std::string err;
  const std::string text = StringField(d, key);
  if (text.empty() ||
      !absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", text, &t, &err)) {
    return std::nullopt;
  }
  return t;
}

absl::Status Unproven(const Approval& a, absl::string_view why) {
  return absl::DataLossError(
      absl::StrCat("approval ", a.id,
                   " is approved in the database, but its signed audit "
                   "events do not prove it: ",
                   why));
}

// The parts of an approval's evidence a token is built from.
struct Evidence {
  const AuditEvent* created = nullptr;
  const AuditEvent* approved = nullptr;
  std::map<std::string, Verdict> reviews;  // by reviewer, signed events only
};

absl::StatusOr<Evidence> Authenticate(const Approval& a,
                                      const AuditKeyring& keys) {
  Evidence ev;
  for (const AuditEvent& e : a.evidence) {
    if (e.approval_id != a.id) {
      return Unproven(
          a, absl::StrCat("event ", e.seq, " is for approval ", e.approval_id));
    }
    if (e.hash != ChainHash(e.prev_hash, e)) {
      return Unproven(a, absl::StrCat("event ", e.seq,
                                      " does not match its hash (altered)"));
    }
    if (absl::Status s = keys.VerifySeal(e); !s.ok()) {
      return Unproven(a, s.message());
    }
    switch (e.type) {
      case EventType::kCreated:
        if (ev.created != nullptr) return Unproven(a, "two created events");
        ev.created = &e;
        break;
      case EventType::kApproved:
        if (ev.approved != nullptr) return Unproven(a, "two approved events");
        ev.approved = &e;
        break;
      case EventType::kReviewed: {
        std::optional<Verdict> v =
            ParseVerdict(StringField(ParseDetails(e), "verdict"));
        if (!v)
          return Unproven(
              a, absl::StrCat("review event ", e.seq, " has no verdict"));
        if (!ev.reviews.emplace(e.actor, *v).second) {
          return Unproven(a, absl::StrCat("two reviews by ", e.actor));
        }
        break;
      }
      default:
        break;  // other events prove nothing either way
    }
  }
  if (ev.created == nullptr) return Unproven(a, "no signed created event");
  if (ev.approved == nullptr) return Unproven(a, "no signed approved event");
  if (ev.approved->seq < ev.created->seq) {
    return Unproven(a, "approved before it was created");
  }
  return ev;
}

// The approvers the approved event names, each with a signed approve review,
// none of them the requester or the human behind it, at least `required`.
absl::StatusOr<std::vector<std::string>> ProvenApprovers(const Approval& a,
                                                         const Evidence& ev,
                                                         const Json& created,
                                                         const Json& approved,
                                                         int64_t required) {
  auto reviews = approved.find("reviews");
  if (reviews == approved.end() || !reviews->is_array()) {
    return Unproven(a, "its approved event lists no reviews");
  }
  const std::string requester = ev.created->actor;
  const std::string on_behalf_of = StringField(created, "on_behalf_of");
  std::set<std::string> approvers;
  for (const Json& review : *reviews) {
    if (!review.is_object() ||
        StringField(review, "verdict") != VerdictName(Verdict::kApprove)) {
      continue;
    }
    const std::string who = StringField(review, "reviewer");
    auto signed_review = ev.reviews.find(who);
    if (signed_review == ev.reviews.end() ||
        signed_review->second != Verdict::kApprove) {
      return Unproven(a, absl::StrCat("no signed approve review by ", who));
    }
    if (who.empty() || who == requester ||
        (!on_behalf_of.empty() && who == on_behalf_of)) {
      return Unproven(a, absl::StrCat(who, " may not approve it"));
    }
    approvers.insert(who);
  }
  if (static_cast<int64_t>(approvers.size()) < required) {
    return Unproven(a, absl::StrCat(approvers.size(), " signed approvals, ",
                                    required, " required"));
  }
  return std::vector<std::string>(approvers.begin(), approvers.end());
}

}  // namespace

absl::StatusOr<ApprovalClaims> ProveApproval(const Approval& a,
                                             const AuditKeyring& keys) {
  if (a.state != State::kApproved) {
    return absl::DataLossError(
        absl::StrCat("approval ", a.id, " is not approved"));
  }
  absl::StatusOr<Evidence> ev = Authenticate(a, keys);
  if (!ev.ok()) return ev.status();
  const Json created = ParseDetails(*ev->created);
  const Json approved = ParseDetails(*ev->approved);
  auto req = created.find("requirement");
  if (req == created.end() || !req->is_object()) {
    return Unproven(a, "its created event records no policy requirement");
  }
  const Json& r = *req;
  auto window = r.find("execution_window_us");
  auto required = r.find("approvals_required");
  if (window == r.end() || !window->is_number_integer() ||
      required == r.end() || !required->is_number_integer() ||
      required->get<int64_t>() < 1) {
    return Unproven(a, "its created event has an unreadable requirement");
  }

  ApprovalClaims c;
  c.approval_id = a.id;
  c.action = StringField(created, "action");
  c.action_digest = StringField(created, "action_digest");
  c.rule = StringField(r, "rule");
  c.approved_at = ev->approved->occurred_at;
  c.not_before = c.approved_at;
  c.not_after = c.approved_at + absl::Microseconds(window->get<int64_t>());
  if (c.action_digest.empty()) {
    return Unproven(a, "its created event has no action digest");
  }

  if (ev->approved->actor == kPolicyActor) {
    if (StringField(r, "outcome") != OutcomeName(Outcome::kAutoApprove)) {
      return Unproven(a,
                      "approved by policy, but its rule does not "
                      "auto-approve");
    }
    return c;  // no approvers
  }
  absl::StatusOr<std::vector<std::string>> approvers =
      ProvenApprovers(a, *ev, created, approved, required->get<int64_t>());
  if (!approvers.ok()) return approvers.status();
  c.approvers = *std::move(approvers);
  return c;
}

void AuditReplay::Problem(std::string p) {
  if (problems_.size() < kMaxProblems) {
    problems_.push_back(std::move(p));
  } else if (problems_.size() == kMaxProblems) {
    problems_.push_back("... more problems not listed");
  }
}

void AuditReplay::Apply(const AuditEvent& e) {
  if (e.type == EventType::kCreated) {
    if (approvals_.count(e.approval_id) != 0) {
      Problem(absl::StrCat("audit event ", e.seq, ": approval ", e.approval_id,
                           " created a second time"));
      return;
    }
    const Json d = ParseDetails(e);
    Replayed& r = approvals_[e.approval_id];
    r.requester = e.actor;
    r.action_digest = StringField(d, "action_digest");
    r.expires_at = TimeField(d, "expires_at");
    return;
  }
  auto it = approvals_.find(e.approval_id);
  if (it == approvals_.end()) {
    Problem(absl::StrCat("audit event ", e.seq, " (", EventTypeName(e.type),
                         ") is for approval ", e.approval_id,
                         ", which no earlier event created"));
    return;
  }
  Replayed& r = it->second;
  if (e.type == EventType::kDecisionRefused) return;
  if (IsTerminal(r.state)) {
    Problem(absl::StrCat("audit event ", e.seq, " (", EventTypeName(e.type),
                         ") comes after approval ", e.approval_id, " ended ",
                         StateName(r.state)));
    return;
  }
  const Json d = ParseDetails(e);
  if (e.type == EventType::kReviewed) {
    std::optional<Verdict> v = ParseVerdict(StringField(d, "verdict"));
    r.reviews.push_back(Review{e.actor, v.value_or(Verdict::kDeny),
                               StringField(d, "comment"), e.occurred_at,
                               StringField(d, "relay"),
                               StringField(d, "platform_user")});
    return;
  }
  if (e.type == EventType::kEscalated) {
    if (r.escalated_at.has_value()) {
      Problem(absl::StrCat("audit event ", e.seq, ": approval ", e.approval_id,
                           " escalated a second time"));
    }
    r.escalated_at = e.occurred_at;
    return;
  }
  std::optional<State> after = StateAfter(e.type);
  if (!after) return;
  r.state = *after;
  r.decided_at = e.occurred_at;
  switch (e.type) {
    case EventType::kApproved:
    case EventType::kDenied:
      r.decided_by = e.actor;
      // A quorum's state change carries the deciding review's comment.
      r.decision_comment = e.actor != kPolicyActor && !r.reviews.empty() &&
                                   r.reviews.back().reviewer == e.actor
                               ? r.reviews.back().comment
                               : "";
      break;
    case EventType::kCancelled:
      r.decided_by = e.actor;
      r.decision_comment = StringField(d, "reason");
      break;
    default:  // kExpired
      r.decided_by.clear();
      r.decision_comment.clear();
      break;
  }
}

void AuditReplay::Check(const Approval& row) {
  ++checked_;
  auto it = approvals_.find(row.id);
  if (it == approvals_.end()) {
    Problem(absl::StrCat("approval ", row.id,
                         ": no audit event records its creation (the row "
                         "was inserted around the broker)"));
    return;
  }
  Replayed& r = it->second;
  r.seen_row = true;
  std::vector<std::string> diffs;
  auto differs = [&](absl::string_view field, const std::string& stored,
                     const std::string& audited) {
    if (stored != audited) {
      diffs.push_back(absl::StrCat(field, " is \"", stored.substr(0, 80),
                                   "\", the audit chain says \"",
                                   audited.substr(0, 80), "\""));
    }
  };
  auto time_text = [](const std::optional<absl::Time>& t) {
    return t ? FormatTimestamp(*t) : std::string("none");
  };
  differs("state", std::string(StateName(row.state)),
          std::string(StateName(r.state)));
  differs("requester", row.requester, r.requester);
  differs("action_digest", row.action_digest, r.action_digest);
  differs("expires_at", FormatTimestamp(row.expires_at),
          time_text(r.expires_at));
  differs("decided_at", time_text(row.decided_at), time_text(r.decided_at));
  differs("escalated_at", time_text(row.escalated_at),
          time_text(r.escalated_at));
  differs("decided_by", row.decided_by, r.decided_by);
  differs("decision_comment", row.decision_comment, r.decision_comment);
  auto review_text = [](const std::vector<Review>& reviews) {
    return absl::StrJoin(reviews, ", ", [](std::string* out, const Review& v) {
      absl::StrAppend(out, v.reviewer, " ", VerdictName(v.verdict), " \"",
                      v.comment.substr(0, 40), "\" at ",
                      FormatTimestamp(v.reviewed_at));
      if (!v.relay.empty()) {
        absl::StrAppend(out, " via ", v.relay, " as ", v.platform_user);
      }
    });
  };
  differs("reviews", review_text(row.reviews), review_text(r.reviews));
  if (!diffs.empty()) {
    Problem(
        absl::StrCat("approval ", row.id, ": ", absl::StrJoin(diffs, "; ")));
  }
}

void AuditReplay::CheckNoneMissing() {
  for (const auto& [id, r] : approvals_) {
    if (!r.seen_row) {
      Problem(absl::StrCat("approval ", id,
                           ": created in the audit chain but missing from "
                           "the approvals table"));
    }
  }
}

}  // namespace approval
