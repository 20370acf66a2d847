#include "server/policy/policy.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/common/json_reader.h"
#include "server/common/read_file.h"
#include "server/common/strict_json.h"

namespace approval {
namespace {

using Json = JsonReader::Json;
using Field = JsonReader::Field;
using Read = JsonReader::Read;
using Groups = std::map<std::string, std::set<std::string>>;

// Policy files are small; anything larger is a mistake.
constexpr size_t kMaxPolicyFileBytes = 4 * 1024 * 1024;
constexpr size_t kMaxNameBytes = 64;
const absl::Duration kMaxExecutionWindow = absl::Hours(24 * 30);

std::string Quote(absl::string_view s) { return QuoteJson(s); }

// Rule and group names: [A-Za-z0-9._-], 1-64 bytes.
bool IsValidName(absl::string_view s) {
  if (s.empty() || s.size() > kMaxNameBytes) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string InvalidNameText(absl::string_view name) {
  return absl::StrCat(Quote(name),
                      " is not 1-64 characters of letters, digits, '.', '_' "
                      "and '-'");
}

// `s` with the rule's name appended once it is known, so that an operator
// finds the rule by name as well as by its path.
absl::Status NamingRule(const PolicyRule& rule, absl::Status s) {
  if (s.ok() || rule.name.empty()) return s;
  return absl::Status(
      s.code(), absl::StrCat(s.message(), " (rule ", Quote(rule.name), ")"));
}

// Reads a policy file through the strict field reader: every error names
// the path of the key, e.g. "rules[1].approvals_required".
class PolicyReader final {
 public:
  PolicyReader(const JsonReader& reader, const Limits& limits)
      : r_(reader), limits_(limits) {}

  absl::Status Top(const Json& root, Policy& p) const {
    if (absl::Status s = r_.Object(root, "",
                                   {{"groups", ReadGroups(&p.groups)},
                                    {"rules", ReadRules(&p.rules), true},
                                    {"masking", ReadMasking(&p.masking)}});
        !s.ok()) {
      return s;
    }
    // Rules may come before the groups they name: checked once all is read.
    for (size_t i = 0; i < p.rules.size(); ++i) {
      if (absl::Status s = NamingRule(
              p.rules[i],
              CheckReviewers(p.rules[i], JsonPathIndex("rules", i), p.groups));
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  Read ReadGroups(Groups* out) const {
    return [this, out](const Json& v, const std::string& path) {
      return r_.Entries(v, path, "an object of group -> principals",
                        [&](const std::string& name, const Json& members,
                            const std::string& at) {
                          if (!IsValidName(name))
                            return r_.Error(at, InvalidNameText(name));
                          return ReadMembers(members, at, (*out)[name]);
                        });
    };
  }

  absl::Status ReadMembers(const Json& v, const std::string& path,
                           std::set<std::string>& out) const {
    if (v.is_array() && v.empty()) {
      return r_.Error(path, "must name at least one member");
    }
    return r_.Array(
        v, path, "an array of principals",
        [&](size_t, const Json& m, const std::string& at) {
          if (!m.is_string()) return r_.WrongType(m, at, "a principal");
          const std::string& principal = m.get_ref<const std::string&>();
          if (principal.empty()) {
            return r_.Error(at, "a member is the empty string");
          }
          if (!out.insert(principal).second) {
            return r_.Error(at,
                            absl::StrCat(Quote(principal), " is listed twice"));
          }
          return absl::OkStatus();
        });
  }

  Read ReadRules(std::vector<PolicyRule>* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (v.is_array() && v.empty()) {
        return r_.Error(path,
                        "must not be empty (a policy without rules denies "
                        "every request)");
      }
      std::map<std::string, size_t> names;  // rule name -> index
      return r_.Array(v, path, "an array of rules",
                      [&](size_t i, const Json& j, const std::string& at) {
                        PolicyRule& rule = out->emplace_back();
                        return NamingRule(rule,
                                          ReadRule(j, at, i, names, rule));
                      });
    };
  }

  // A non-empty string (a glob).
  Read Glob(std::string* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_string()) return r_.WrongType(v, path, "a string (a glob)");
      *out = v.get<std::string>();
      if (out->empty()) {
        return r_.Error(path,
                        "must not be empty (use \"*\" to match anything)");
      }
      return absl::OkStatus();
    };
  }

  Read Name(std::map<std::string, size_t>& names, size_t index,
            std::string* out) const {
    return [this, &names, index, out](const Json& v, const std::string& path) {
      if (absl::Status s = r_.String(out)(v, path); !s.ok()) return s;
      if (!IsValidName(*out)) return r_.Error(path, InvalidNameText(*out));
      if (*out == kNoRuleMatched) {
        return r_.Error(path, absl::StrCat(Quote(*out),
                                           " is reserved for requests no "
                                           "rule matches"));
      }
      if (auto [it, inserted] = names.emplace(*out, index); !inserted) {
        return r_.Error(path,
                        absl::StrCat(Quote(*out), " is already used by rules[",
                                     it->second, "]"));
      }
      return absl::OkStatus();
    };
  }

  Read OutcomeOf(Outcome* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_string()) return r_.WrongType(v, path, "a string");
      std::optional<Outcome> o = ParseOutcome(v.get_ref<const std::string&>());
      if (!o) {
        return r_.Error(path, absl::StrCat(r_.Show(v),
                                           " is not one of "
                                           "\"require_approval\", "
                                           "\"auto_approve\", \"deny\""));
      }
      *out = *o;
      return absl::OkStatus();
    };
  }

  // A TTL within limits.min_ttl..limits.max_ttl.
  Read Ttl(std::optional<absl::Duration>* out) const {
    return [this, out](const Json& v, const std::string& path) {
      absl::Duration d;
      if (absl::Status s = r_.Duration(&d)(v, path); !s.ok()) return s;
      if (d < limits_.min_ttl || d > limits_.max_ttl) {
        return r_.Error(
            path, absl::StrCat(absl::FormatDuration(d),
                               " is outside the broker's limits ",
                               absl::FormatDuration(limits_.min_ttl), "..",
                               absl::FormatDuration(limits_.max_ttl)));
      }
      *out = d;
      return absl::OkStatus();
    };
  }

  Read MinLength(int* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (absl::Status s = r_.Int(out, 0)(v, path); !s.ok()) return s;
      if (static_cast<size_t>(*out) > limits_.max_justification_bytes) {
        return r_.Error(path, absl::StrCat(*out,
                                           " exceeds the broker's "
                                           "max_justification_bytes ",
                                           limits_.max_justification_bytes));
      }
      return absl::OkStatus();
    };
  }

  Read Window(absl::Duration* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (absl::Status s = r_.Duration(out)(v, path); !s.ok()) return s;
      if (*out <= absl::ZeroDuration() || *out > kMaxExecutionWindow) {
        return r_.Error(path, absl::StrCat(absl::FormatDuration(*out),
                                           " is not in (0, 720h]"));
      }
      return absl::OkStatus();
    };
  }

  Read ReviewerGroups(std::vector<std::string>* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (absl::Status s = r_.StringArray(out)(v, path); !s.ok()) return s;
      for (size_t i = 0; i < out->size(); ++i) {
        if (std::find(out->begin(), out->begin() + i, (*out)[i]) !=
            out->begin() + i) {
          return r_.Error(JsonPathIndex(path, i),
                          absl::StrCat(Quote((*out)[i]), " is listed twice"));
        }
      }
      return absl::OkStatus();
    };
  }

  absl::Status ReadRule(const Json& j, const std::string& path, size_t index,
                        std::map<std::string, size_t>& names,
                        PolicyRule& r) const {
    if (absl::Status s = r_.Object(
            j, path,
            {
                {"name", Name(names, index, &r.name), true},
                {"action", Glob(&r.action), true},
                {"resource", Glob(&r.resource)},
                {"requester", Glob(&r.requester)},
                {"outcome", OutcomeOf(&r.outcome)},
                {"reviewer_groups", ReviewerGroups(&r.reviewer_groups)},
                {"approvals_required", r_.Int(&r.approvals_required, 1)},
                {"deny_ends", r_.Bool(&r.deny_ends)},
                {"justification_required", r_.Bool(&r.justification_required)},
                {"justification_min_length",
                 MinLength(&r.justification_min_length)},
                {"default_ttl", Ttl(&r.default_ttl)},
                {"max_ttl", Ttl(&r.max_ttl)},
                {"execution_window", Window(&r.execution_window)},
                {"relays_allowed", r_.Bool(&r.relays_allowed)},
                {"escalate_after", EscalateAfter(&r.escalate_after)},
                {"escalate_to", ReviewerGroups(&r.escalate_to)},
            });
        !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckOutcomeFields(j, path, r); !s.ok()) return s;
    if (absl::Status s = CheckJustification(j, path, r); !s.ok()) return s;
    if (absl::Status s = CheckTtls(path, r); !s.ok()) return s;
    return CheckEscalation(j, path, r);
  }

  Read EscalateAfter(absl::Duration* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (absl::Status s = r_.Duration(out)(v, path); !s.ok()) return s;
      if (*out <= absl::ZeroDuration()) {
        return r_.Error(path, absl::StrCat(absl::FormatDuration(*out),
                                           " must be positive"));
      }
      return absl::OkStatus();
    };
  }

  // escalate_after and escalate_to come together, and escalation must be
  // able to happen before every approval of the rule has expired.
  absl::Status CheckEscalation(const Json& j, const std::string& path,
                               const PolicyRule& r) const {
    const bool after = j.contains("escalate_after");
    const bool to = j.contains("escalate_to");
    if (after != to) {
      return r_.Error(
          JsonPathKey(path, after ? "escalate_after" : "escalate_to"),
          absl::StrCat("needs ", after ? "escalate_to" : "escalate_after",
                       " as well"));
    }
    if (!after) return absl::OkStatus();
    if (r.escalate_to.empty()) {
      return r_.Error(JsonPathKey(path, "escalate_to"),
                      "must name at least one group");
    }
    const absl::Duration max_ttl = r.max_ttl.value_or(limits_.max_ttl);
    if (r.escalate_after >= max_ttl) {
      return r_.Error(
          JsonPathKey(path, "escalate_after"),
          absl::StrCat(absl::FormatDuration(r.escalate_after),
                       " is not below max_ttl ", absl::FormatDuration(max_ttl),
                       ": every approval would expire before it escalates"));
    }
    return absl::OkStatus();
  }

  // Reviewer fields only mean something when approval is required.
  absl::Status CheckOutcomeFields(const Json& j, const std::string& path,
                                  const PolicyRule& r) const {
    if (r.outcome == Outcome::kRequireApproval) return absl::OkStatus();
    for (const char* key :
         {"reviewer_groups", "approvals_required", "deny_ends",
          "relays_allowed", "escalate_after", "escalate_to"}) {
      if (j.contains(key)) {
        return r_.Error(JsonPathKey(path, key),
                        absl::StrCat("only applies to require_approval "
                                     "(outcome is ",
                                     Quote(OutcomeName(r.outcome)), ")"));
      }
    }
    return absl::OkStatus();
  }

  // justification_min_length > 0 implies justification_required.
  absl::Status CheckJustification(const Json& j, const std::string& path,
                                  PolicyRule& r) const {
    if (r.justification_min_length <= 0) return absl::OkStatus();
    if (j.contains("justification_required") && !r.justification_required) {
      return r_.Error(JsonPathKey(path, "justification_required"),
                      absl::StrCat("false contradicts "
                                   "justification_min_length ",
                                   r.justification_min_length));
    }
    r.justification_required = true;
    return absl::OkStatus();
  }

  absl::Status CheckTtls(const std::string& path, const PolicyRule& r) const {
    const absl::Duration max_ttl = r.max_ttl.value_or(limits_.max_ttl);
    if (r.default_ttl && *r.default_ttl > max_ttl) {
      return r_.Error(
          JsonPathKey(path, "default_ttl"),
          absl::StrCat(absl::FormatDuration(*r.default_ttl),
                       " exceeds max_ttl ", absl::FormatDuration(max_ttl)));
    }
    if (r.max_ttl && !r.default_ttl && *r.max_ttl < limits_.default_ttl) {
      return r_.Error(JsonPathKey(path, "max_ttl"),
                      absl::StrCat(absl::FormatDuration(*r.max_ttl),
                                   " is below the broker's default ttl ",
                                   absl::FormatDuration(limits_.default_ttl),
                                   "; set default_ttl as well"));
    }
    return absl::OkStatus();
  }

  // reviewer_groups are defined, with enough people for approvals_required.
  absl::Status CheckReviewers(const PolicyRule& r, const std::string& path,
                              const Groups& groups) const {
    std::set<std::string> people;
    for (size_t i = 0; i < r.reviewer_groups.size(); ++i) {
      const auto group = groups.find(r.reviewer_groups[i]);
      if (group == groups.end()) {
        return r_.Error(JsonPathIndex(JsonPathKey(path, "reviewer_groups"), i),
                        absl::StrCat(Quote(r.reviewer_groups[i]),
                                     " is not defined in \"groups\""));
      }
      people.insert(group->second.begin(), group->second.end());
    }
    for (size_t i = 0; i < r.escalate_to.size(); ++i) {
      if (groups.count(r.escalate_to[i]) == 0) {
        return r_.Error(JsonPathIndex(JsonPathKey(path, "escalate_to"), i),
                        absl::StrCat(Quote(r.escalate_to[i]),
                                     " is not defined in \"groups\""));
      }
    }
    if (r.reviewer_groups.empty() ||
        static_cast<size_t>(r.approvals_required) <= people.size()) {
      return absl::OkStatus();
    }
    return r_.Error(
        JsonPathKey(path, "approvals_required"),
        absl::StrCat(r.approvals_required, " exceeds the ", people.size(),
                     " distinct members of reviewer_groups [",
                     absl::StrJoin(r.reviewer_groups, ", "), "]"));
  }

  Read ReadMasking(MaskingOptions* out) const {
    return r_.Nested({
        {"paths", r_.ObjectArray<MaskPathRule>(
                      &out->paths,
                      [this](MaskPathRule& rule) -> std::vector<Field> {
                        return {{"path", MaskPath(&rule.path), true},
                                {"label", MaskLabel(&rule.label)}};
                      })},
        {"detectors", Detectors(&out->detectors)},
    });
  }

  Read MaskPath(std::string* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (absl::Status s = r_.String(out)(v, path); !s.ok()) return s;
      if (absl::Status s = ValidateJsonPath(*out); !s.ok()) {
        return r_.Error(path, s.message());
      }
      return absl::OkStatus();
    };
  }

  Read MaskLabel(std::string* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (absl::Status s = r_.String(out)(v, path); !s.ok()) return s;
      if (absl::Status s = ValidateMaskLabel(*out); !s.ok()) {
        return r_.Error(path, s.message());
      }
      return absl::OkStatus();
    };
  }

  Read Detectors(std::vector<Detector>* out) const {
    return [this, out](const Json& v, const std::string& path) {
      out->clear();
      return r_.Array(
          v, path, "an array of detector names",
          [&](size_t, const Json& d, const std::string& at) {
            if (!d.is_string()) return r_.WrongType(d, at, "a detector name");
            const std::string& name = d.get_ref<const std::string&>();
            std::optional<Detector> det = ParseDetector(name);
            if (!det) {
              std::vector<std::string> known;
              for (Detector k : AllDetectors()) {
                known.emplace_back(DetectorName(k));
              }
              return r_.Error(at,
                              absl::StrCat(Quote(name), " is not a detector (",
                                           absl::StrJoin(known, ", "), ")"));
            }
            if (std::find(out->begin(), out->end(), *det) != out->end()) {
              return r_.Error(at,
                              absl::StrCat(Quote(name), " is listed twice"));
            }
            out->push_back(*det);
            return absl::OkStatus();
          });
    };
  }

  const JsonReader& r_;
  const Limits& limits_;
};

}  // namespace

const PolicyRule* Policy::Match(absl::string_view action,
                                absl::string_view resource,
                                absl::string_view requester) const {
  for (const PolicyRule& r : rules) {
    if (GlobMatch(r.action, action) && GlobMatch(r.resource, resource) &&
        GlobMatch(r.requester, requester)) {
      return &r;
    }
  }
  return nullptr;
}

std::vector<std::string> Policy::GroupsOf(absl::string_view principal) const {
  std::vector<std::string> out;
  const std::string p(principal);
  for (const auto& [name, members] : groups) {  // std::map: sorted
    if (members.count(p)) out.push_back(name);
  }
  return out;
}

std::vector<std::string> Policy::RulesRefusingRelays() const {
  std::vector<std::string> out;
  for (const PolicyRule& r : rules) {
    if (!r.relays_allowed) out.push_back(r.name);
  }
  return out;
}

Policy DefaultPolicy() {
  Policy p;
  PolicyRule r;
  r.name = "default";
  r.action = "*";
  r.outcome = Outcome::kRequireApproval;
  r.approvals_required = 1;
  p.rules.push_back(std::move(r));
  return p;
}

absl::StatusOr<Policy> ParsePolicy(absl::string_view text,
                                   absl::string_view source,
                                   const Limits& limits) {
  const JsonReader reader(source);
  absl::StatusOr<Json> root = reader.Parse(text);
  if (!root.ok()) return root.status();
  Policy p;
  if (absl::Status s = PolicyReader(reader, limits).Top(*root, p); !s.ok()) {
    return s;
  }
  return p;
}

absl::StatusOr<Policy> LoadPolicyFile(const std::string& path,
                                      const Limits& limits) {
  // ReadFile's errors (NOT_FOUND, PERMISSION_DENIED, ...) start with the path.
  absl::StatusOr<std::string> text = ReadFile(path, kMaxPolicyFileBytes);
  if (!text.ok()) return text.status();
  return ParsePolicy(*text, path, limits);
}

bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  // Two pointers; on a mismatch, retry from the last '*' with one more text
  // byte swallowed. Earlier stars never need revisiting, so this is
  // O(|pattern| * |text|) at worst, without recursion.
  size_t p = 0;
  size_t t = 0;
  size_t star = absl::string_view::npos;
  size_t mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() &&
               (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Requirement RequirementOf(const PolicyRule& rule) {
  Requirement r;
  r.rule = rule.name;
  r.outcome = rule.outcome;
  r.reviewer_groups = rule.reviewer_groups;
  r.approvals_required = rule.approvals_required;
  r.deny_ends = rule.deny_ends;
  r.execution_window = rule.execution_window;
  r.escalate_after = rule.escalate_after;
  r.escalate_to = rule.escalate_to;
  return r;
}

}  // namespace approval
