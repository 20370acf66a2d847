#include "server/policy/policy.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/config/read_file.h"
#include "server/config/strict_json.h"

namespace approval {
namespace {

// ordered_json so that errors come in file order.
using Json = nlohmann::ordered_json;

// Policy files are small; anything larger is a mistake.
constexpr size_t kMaxPolicyFileBytes = 4 * 1024 * 1024;
constexpr size_t kMaxNameBytes = 64;
const absl::Duration kMaxExecutionWindow = absl::Hours(24 * 30);

std::string Show(const Json& v) { return ShowJson(v); }
std::string Quote(absl::string_view s) { return QuoteJson(s); }

// "expected a string, got number 5".
std::string Expected(absl::string_view what, const Json& got) {
  std::string s = absl::StrCat("expected ", what, ", got ", got.type_name());
  if (!got.is_structured()) absl::StrAppend(&s, " ", Show(got));
  return s;
}

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

class Parser {
 public:
  Parser(absl::string_view source, const Limits& limits)
      : source_(source), limits_(limits) {}

  absl::Status Top(const Json& root, Policy& p) {
    if (!root.is_object()) {
      return Fail(absl::StrCat("the policy must be a JSON object, got ",
                               root.type_name()));
    }
    for (const auto& [key, value] : root.items()) {
      if (key != "groups" && key != "rules" && key != "masking") {
        return Fail(absl::StrCat("unknown key ", Quote(key),
                                 " (expected groups, rules, masking)"));
      }
    }
    // Groups first wherever they appear: rules refer to them.
    if (auto it = root.find("groups"); it != root.end()) {
      if (absl::Status s = Groups(*it, p.groups); !s.ok()) return s;
    }
    auto rules = root.find("rules");
    if (rules == root.end()) return Fail("rules: required");
    if (!rules->is_array()) {
      return Fail(absl::StrCat("rules: ", Expected("an array", *rules)));
    }
    if (rules->empty()) {
      return Fail(
          "rules: must not be empty (a policy without rules denies every "
          "request)");
    }
    std::map<std::string, size_t> names;  // rule name -> 1-based index
    size_t index = 0;
    for (const Json& j : *rules) {
      ++index;
      PolicyRule rule;
      if (absl::Status s = Rule(j, index, p.groups, names, rule); !s.ok()) {
        return s;
      }
      p.rules.push_back(std::move(rule));
    }
    if (auto it = root.find("masking"); it != root.end()) {
      if (absl::Status s = Masking(*it, p.masking); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Fail(absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", message));
  }
  absl::Status Fail(absl::string_view where, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": ", where, ": ", what));
  }

  absl::Status Groups(const Json& j,
                      std::map<std::string, std::set<std::string>>& out) {
    if (!j.is_object()) {
      return Fail("groups", Expected("an object of group -> principals", j));
    }
    for (const auto& [name, members] : j.items()) {
      const std::string where = absl::StrCat("groups: ", Quote(name));
      if (!IsValidName(name)) return Fail(where, InvalidNameText(name));
      if (!members.is_array()) {
        return Fail(where, Expected("an array of principals", members));
      }
      if (members.empty()) {
        return Fail(where, "must name at least one member");
      }
      std::set<std::string>& set = out[name];
      for (const Json& m : members) {
        if (!m.is_string()) {
          return Fail(where,
                      absl::StrCat("members: ", Expected("a string", m)));
        }
        const std::string& principal = m.get_ref<const std::string&>();
        if (principal.empty()) {
          return Fail(where, "members: a member is the empty string");
        }
        if (!set.insert(principal).second) {
          return Fail(where, absl::StrCat("members: ", Quote(principal),
                                          " is listed twice"));
        }
      }
    }
    return absl::OkStatus();
  }

  // A non-empty string (a glob).
  absl::Status Glob(const std::string& where, const Json& v,
                    std::string& out) const {
    if (!v.is_string()) return Fail(where, Expected("a string (a glob)", v));
    out = v.get<std::string>();
    if (out.empty()) {
      return Fail(where, "must not be empty (use \"*\" to match anything)");
    }
    return absl::OkStatus();
  }

  absl::Status Bool(const std::string& where, const Json& v, bool& out) const {
    if (!v.is_boolean()) return Fail(where, Expected("true or false", v));
    out = v.get<bool>();
    return absl::OkStatus();
  }

  absl::Status Int(const std::string& where, const Json& v, int64_t min,
                   int& out) const {
    const std::string what = absl::StrCat("an integer >= ", min);
    if (!v.is_number_integer()) return Fail(where, Expected(what, v));
    int64_t n = 0;
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
        return Fail(where, absl::StrCat(Show(v), " is too large"));
      }
      n = static_cast<int64_t>(u);
    } else {
      n = v.get<int64_t>();
    }
    if (n < min) return Fail(where, Expected(what, v));
    if (n > std::numeric_limits<int>::max()) {
      return Fail(where, absl::StrCat(Show(v), " is too large"));
    }
    out = static_cast<int>(n);
    return absl::OkStatus();
  }

  absl::Status Duration(const std::string& where, const Json& v,
                        absl::Duration& out) const {
    if (!v.is_string()) {
      return Fail(where, Expected("a duration string such as \"30m\"", v));
    }
    const std::string& text = v.get_ref<const std::string&>();
    if (!absl::ParseDuration(text, &out) || out == absl::InfiniteDuration() ||
        out == -absl::InfiniteDuration()) {
      return Fail(where, absl::StrCat(Quote(text),
                                      " is not a duration (e.g. \"90s\", "
                                      "\"30m\", \"1h30m\")"));
    }
    return absl::OkStatus();
  }

  // A TTL within limits.min_ttl..limits.max_ttl.
  absl::Status Ttl(const std::string& where, const Json& v,
                   std::optional<absl::Duration>& out) const {
    absl::Duration d;
    if (absl::Status s = Duration(where, v, d); !s.ok()) return s;
    if (d < limits_.min_ttl || d > limits_.max_ttl) {
      return Fail(where,
                  absl::StrCat(absl::FormatDuration(d),
                               " is outside the broker's limits ",
                               absl::FormatDuration(limits_.min_ttl), "..",
                               absl::FormatDuration(limits_.max_ttl)));
    }
    out = d;
    return absl::OkStatus();
  }

  absl::Status Rule(const Json& j, size_t index,
                    const std::map<std::string, std::set<std::string>>& groups,
                    std::map<std::string, size_t>& names, PolicyRule& r) {
    std::string label = absl::StrCat("rule #", index);
    if (!j.is_object()) return Fail(label, Expected("an object", j));
    auto name = j.find("name");
    if (name == j.end()) return Fail(label, "name: required");
    if (!name->is_string()) {
      return Fail(label, absl::StrCat("name: ", Expected("a string", *name)));
    }
    r.name = name->get<std::string>();
    if (!IsValidName(r.name)) {
      return Fail(label, absl::StrCat("name: ", InvalidNameText(r.name)));
    }
    if (r.name == kNoRuleMatched) {
      return Fail(label, absl::StrCat("name: ", Quote(r.name),
                                      " is reserved for requests no rule "
                                      "matches"));
    }
    label = absl::StrCat("rule ", Quote(r.name));
    if (auto [it, inserted] = names.emplace(r.name, index); !inserted) {
      return Fail(label,
                  absl::StrCat("name: already used by rule #", it->second));
    }
    auto field = [&](absl::string_view key) {
      return absl::StrCat(label, ": ", key);
    };

    std::set<std::string> present;
    bool justification_required_set = false;
    for (const auto& [key, v] : j.items()) {
      present.insert(key);
      absl::Status s;
      if (key == "name") {
        continue;
      } else if (key == "action") {
        s = Glob(field(key), v, r.action);
      } else if (key == "resource") {
        s = Glob(field(key), v, r.resource);
      } else if (key == "requester") {
        s = Glob(field(key), v, r.requester);
      } else if (key == "outcome") {
        if (!v.is_string()) {
          s = Fail(field(key), Expected("a string", v));
        } else if (std::optional<Outcome> o =
                       ParseOutcome(v.get_ref<const std::string&>())) {
          r.outcome = *o;
        } else {
          s = Fail(field(key),
                   absl::StrCat(Show(v),
                                " is not one of \"require_approval\", "
                                "\"auto_approve\", \"deny\""));
        }
      } else if (key == "reviewer_groups") {
        s = ReviewerGroups(field(key), v, groups, r.reviewer_groups);
      } else if (key == "approvals_required") {
        s = Int(field(key), v, 1, r.approvals_required);
      } else if (key == "deny_ends") {
        s = Bool(field(key), v, r.deny_ends);
      } else if (key == "justification_required") {
        s = Bool(field(key), v, r.justification_required);
        justification_required_set = true;
      } else if (key == "justification_min_length") {
        s = Int(field(key), v, 0, r.justification_min_length);
        if (s.ok() && static_cast<size_t>(r.justification_min_length) >
                          limits_.max_justification_bytes) {
          s = Fail(field(key), absl::StrCat(r.justification_min_length,
                                            " exceeds the broker's "
                                            "max_justification_bytes ",
                                            limits_.max_justification_bytes));
        }
      } else if (key == "default_ttl") {
        s = Ttl(field(key), v, r.default_ttl);
      } else if (key == "max_ttl") {
        s = Ttl(field(key), v, r.max_ttl);
      } else if (key == "execution_window") {
        s = Duration(field(key), v, r.execution_window);
        if (s.ok() && (r.execution_window <= absl::ZeroDuration() ||
                       r.execution_window > kMaxExecutionWindow)) {
          s = Fail(field(key),
                   absl::StrCat(absl::FormatDuration(r.execution_window),
                                " is not in (0, 720h]"));
        }
      } else {
        s = Fail(label, absl::StrCat("unknown key ", Quote(key)));
      }
      if (!s.ok()) return s;
    }

    if (!present.count("action")) return Fail(field("action"), "required");

    if (r.outcome != Outcome::kRequireApproval) {
      for (const char* key :
           {"reviewer_groups", "approvals_required", "deny_ends"}) {
        if (present.count(key)) {
          return Fail(field(key),
                      absl::StrCat("only applies to require_approval (outcome "
                                   "is ",
                                   Quote(OutcomeName(r.outcome)), ")"));
        }
      }
    }

    if (r.justification_min_length > 0) {
      if (justification_required_set && !r.justification_required) {
        return Fail(field("justification_required"),
                    absl::StrCat("false contradicts justification_min_length ",
                                 r.justification_min_length));
      }
      r.justification_required = true;
    }

    const absl::Duration max_ttl = r.max_ttl.value_or(limits_.max_ttl);
    if (r.default_ttl && *r.default_ttl > max_ttl) {
      return Fail(
          field("default_ttl"),
          absl::StrCat(absl::FormatDuration(*r.default_ttl),
                       " exceeds max_ttl ", absl::FormatDuration(max_ttl)));
    }
    if (r.max_ttl && !r.default_ttl && *r.max_ttl < limits_.default_ttl) {
      return Fail(field("max_ttl"),
                  absl::StrCat(absl::FormatDuration(*r.max_ttl),
                               " is below the broker's default ttl ",
                               absl::FormatDuration(limits_.default_ttl),
                               "; set default_ttl as well"));
    }

    if (!r.reviewer_groups.empty()) {
      std::set<std::string> people;
      for (const std::string& g : r.reviewer_groups) {
        const std::set<std::string>& members = groups.at(g);
        people.insert(members.begin(), members.end());
      }
      if (static_cast<size_t>(r.approvals_required) > people.size()) {
        return Fail(
            field("approvals_required"),
            absl::StrCat(r.approvals_required, " exceeds the ", people.size(),
                         " distinct members of reviewer_groups [",
                         absl::StrJoin(r.reviewer_groups, ", "), "]"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ReviewerGroups(
      const std::string& where, const Json& v,
      const std::map<std::string, std::set<std::string>>& groups,
      std::vector<std::string>& out) const {
    if (!v.is_array()) {
      return Fail(where, Expected("an array of group names", v));
    }
    for (const Json& g : v) {
      if (!g.is_string()) return Fail(where, Expected("a group name", g));
      const std::string& name = g.get_ref<const std::string&>();
      if (groups.count(name) == 0) {
        return Fail(where,
                    absl::StrCat(Quote(name), " is not defined in \"groups\""));
      }
      if (std::find(out.begin(), out.end(), name) != out.end()) {
        return Fail(where, absl::StrCat(Quote(name), " is listed twice"));
      }
      out.push_back(name);
    }
    return absl::OkStatus();
  }

  absl::Status Masking(const Json& j, MaskingOptions& out) const {
    if (!j.is_object()) return Fail("masking", Expected("an object", j));
    for (const auto& [key, v] : j.items()) {
      if (key == "paths") {
        if (!v.is_array()) {
          return Fail("masking.paths", Expected("an array", v));
        }
        size_t i = 0;
        for (const Json& p : v) {
          const std::string where = absl::StrCat("masking.paths[", i++, "]");
          if (absl::Status s = PathRule(where, p, out.paths); !s.ok()) {
            return s;
          }
        }
      } else if (key == "detectors") {
        if (!v.is_array()) {
          return Fail("masking.detectors", Expected("an array", v));
        }
        out.detectors.clear();
        for (const Json& d : v) {
          if (!d.is_string()) {
            return Fail("masking.detectors", Expected("a detector name", d));
          }
          const std::string& name = d.get_ref<const std::string&>();
          std::optional<Detector> det = ParseDetector(name);
          if (!det) {
            std::vector<std::string> known;
            for (Detector k : AllDetectors()) {
              known.emplace_back(DetectorName(k));
            }
            return Fail("masking.detectors",
                        absl::StrCat(Quote(name), " is not a detector (",
                                     absl::StrJoin(known, ", "), ")"));
          }
          if (std::find(out.detectors.begin(), out.detectors.end(), *det) !=
              out.detectors.end()) {
            return Fail("masking.detectors",
                        absl::StrCat(Quote(name), " is listed twice"));
          }
          out.detectors.push_back(*det);
        }
      } else {
        return Fail(absl::StrCat("masking: unknown key ", Quote(key),
                                 " (expected paths, detectors)"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status PathRule(const std::string& where, const Json& p,
                        std::vector<MaskPathRule>& out) const {
    if (!p.is_object()) {
      return Fail(where, Expected("an object {\"path\", \"label\"}", p));
    }
    MaskPathRule rule;
    bool has_path = false;
    for (const auto& [key, v] : p.items()) {
      if (key == "path") {
        if (!v.is_string())
          return Fail(where, "path: " + Expected("a string", v));
        rule.path = v.get<std::string>();
        has_path = true;
        if (absl::Status s = ValidateJsonPath(rule.path); !s.ok()) {
          return Fail(where, absl::StrCat("path: ", s.message()));
        }
      } else if (key == "label") {
        if (!v.is_string()) {
          return Fail(where, "label: " + Expected("a string", v));
        }
        rule.label = v.get<std::string>();
        if (absl::Status s = ValidateMaskLabel(rule.label); !s.ok()) {
          return Fail(where, absl::StrCat("label: ", s.message()));
        }
      } else {
        return Fail(where, absl::StrCat("unknown key ", Quote(key),
                                        " (expected path, label)"));
      }
    }
    if (!has_path) return Fail(where, "path: required");
    out.push_back(std::move(rule));
    return absl::OkStatus();
  }

  const absl::string_view source_;
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
  absl::StatusOr<Json> root = ParseStrictJson(text, source);
  if (!root.ok()) return root.status();
  Policy p;
  if (absl::Status s = Parser(source, limits).Top(*root, p); !s.ok()) return s;
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
  return r;
}

}  // namespace approval
