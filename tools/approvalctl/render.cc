#include "tools/approvalctl/render.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace approval::ctl {
namespace {

// The code point at s[i] and its length in *len; -1 (length 1) when s[i]
// does not start a valid, shortest-form UTF-8 sequence.
int32_t DecodeUtf8(absl::string_view s, size_t i, size_t* len) {
  *len = 1;
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = byte(i);
  if (b < 0x80) return b;
  size_t n = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
  if (n == 0 || b >= 0xf5 || i + n > s.size()) return -1;
  int32_t cp = b & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return -1;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  constexpr int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return -1;
  }
  *len = n;
  return cp;
}

bool IsControl(int32_t cp) {
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0);
}

// Marks and embeddings/overrides/isolates that reorder displayed text.
bool IsBidiControl(int32_t cp) {
  return cp == 0x061c || cp == 0x200e || cp == 0x200f ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

// Display columns of printable UTF-8, taken as one per code point.
int Columns(absl::string_view s) {
  return static_cast<int>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

// `s` (printable UTF-8) cut to `width` columns, ending in "…" if cut.
std::string Fit(absl::string_view s, int width) {
  if (Columns(s) <= width) return std::string(s);
  if (width <= 0) return "";
  int kept = 0;
  size_t end = 0;
  while (end < s.size()) {
    size_t next = end + 1;
    while (next < s.size() &&
           (static_cast<unsigned char>(s[next]) & 0xc0) == 0x80) {
      ++next;
    }
    if (++kept > width - 1) break;
    end = next;
  }
  return absl::StrCat(s.substr(0, end), "…");
}

std::string Pad(absl::string_view s, int width) {
  return absl::StrCat(s, std::string(std::max(0, width - Columns(s)), ' '));
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  return FormatUtc(FromProto(t));
}

// Distinct eligible approvals so far: required minus still missing.
int ApprovalsSoFar(const v1::Approval& a) {
  return std::max(0,
                  a.requirement().approvals_required() - a.approvals_missing());
}

// "needs 2 of [data-team, security]; one DENY ends it".
std::string RequirementText(const v1::Requirement& r) {
  switch (r.outcome()) {
    case v1::AUTO_APPROVE:
      return "approved by the rule at creation";
    case v1::AUTO_DENY:
      return "denied by the rule at creation";
    default:
      break;
  }
  std::string out = absl::StrCat("needs ", r.approvals_required());
  if (r.reviewer_groups().empty()) {
    absl::StrAppend(&out, " from any reviewer");
  } else {
    std::vector<std::string> groups;
    for (const std::string& g : r.reviewer_groups()) {
      groups.push_back(Printable(g));
    }
    absl::StrAppend(&out, " of [", absl::StrJoin(groups, ", "), "]");
  }
  absl::StrAppend(
      &out, r.deny_ends() ? "; one DENY ends it" : "; a DENY does not end it");
  return out;
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// "alice, bob", or `none` when nobody.
std::string Names(const std::vector<std::string>& names,
                  absl::string_view none) {
  if (names.empty()) return std::string(none);
  std::vector<std::string> printable;
  for (const std::string& n : names) printable.push_back(Printable(n));
  return absl::StrJoin(printable, ", ");
}

std::string Relative(absl::Time t, absl::Time now) {
  return t <= now ? absl::StrCat(FormatAge(now - t), " ago")
                  : absl::StrCat("in ", FormatAge(t - now));
}

// "EVENT_APPROVED" -> "approved".
std::string EventName(v1::EventType type) {
  const std::string& name = v1::EventType_Name(type);
  return absl::AsciiStrToLower(absl::StripPrefix(name, "EVENT_"));
}

// Parameters as indented JSON, each line printable; as they came if they
// are not JSON.
std::string PrettyParameters(const std::string& json) {
  std::string pretty = json.empty() ? "{}" : json;
  nlohmann::json parsed = nlohmann::json::parse(pretty, nullptr, false);
  if (!parsed.is_discarded()) {
    pretty =
        parsed.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string out;
  for (absl::string_view line : absl::StrSplit(pretty, '\n')) {
    absl::StrAppend(&out, "  ", Printable(line), "\n");
  }
  return out;
}

}  // namespace

std::string Printable(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len;
    int32_t cp = DecodeUtf8(s, i, &len);
    if (cp < 0) {
      absl::StrAppend(
          &out, absl::StrFormat("\\x%02x", static_cast<unsigned char>(s[i])));
    } else if (IsControl(cp)) {
      absl::StrAppend(&out, absl::StrFormat("\\x%02x", cp));
    } else if (IsBidiControl(cp)) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", cp));
    } else {
      out.append(s.data() + i, len);
    }
    i += len;
  }
  return out;
}

std::string FormatAge(absl::Duration d) {
  if (d < absl::Minutes(1)) {
    return absl::StrCat(std::max<int64_t>(0, absl::ToInt64Seconds(d)), "s");
  }
  if (d < absl::Hours(1)) return absl::StrCat(absl::ToInt64Minutes(d), "m");
  if (d < absl::Hours(48)) return absl::StrCat(absl::ToInt64Hours(d), "h");
  return absl::StrCat(absl::ToInt64Hours(d) / 24, "d");
}

namespace {

using TableColumn = std::pair<const char*, int>;  // header, width cap

// Caps keep one long field from squeezing the parameters out; the id is
// needed whole to act on it. 0: the last column, which takes the rest.
std::vector<TableColumn> TableColumns(const TableOptions& options) {
  std::vector<TableColumn> columns = {{"ID", 1000}, {"AGE", 6}};
  if (options.state) columns.push_back({"STATE", 9});
  columns.insert(columns.end(), {{"REQUESTER", 24},
                                 {"APPROVALS", 9},
                                 {"ACTION", 24},
                                 {"RESOURCE", 40},
                                 {"REASON", 30}});
  if (options.state) columns.push_back({"COMMENT", 30});
  if (options.wide) {
    columns.insert(columns.end(), {{"ON BEHALF OF", 24},
                                   {"RULE", 24},
                                   {"EXPIRES", 20},
                                   {"DECIDED BY", 24}});
  }
  columns.push_back({"PARAMETERS", 0});
  return columns;
}

// The cells of `a` for TableColumns(options); "-" for an empty one.
std::vector<std::string> TableRow(const v1::Approval& a, absl::Time now,
                                  const TableOptions& options) {
  const std::string& preview = a.parameters_preview_json();
  std::vector<std::string> row = {Printable(a.id()),
                                  FormatAge(now - FromProto(a.create_time()))};
  if (options.state) row.push_back(v1::State_Name(a.state()));
  row.insert(row.end(), {Printable(a.requester()),
                         absl::StrCat(ApprovalsSoFar(a), "/",
                                      a.requirement().approvals_required()),
                         Printable(a.action()), Printable(a.resource()),
                         Printable(a.justification())});
  if (options.state) row.push_back(Printable(a.decision_comment()));
  if (options.wide) {
    row.insert(row.end(),
               {Printable(a.on_behalf_of()), Printable(a.requirement().rule()),
                FormatTimestamp(a.expire_time()), Printable(a.decided_by())});
  }
  row.push_back(Printable(preview.empty() ? "{}" : preview));
  for (std::string& cell : row) {
    if (cell.empty()) cell = "-";
  }
  return row;
}

// Column widths for `rows` (headers first) in a terminal `width` wide.
std::vector<int> ColumnWidths(const std::vector<TableColumn>& columns,
                              const std::vector<std::vector<std::string>>& rows,
                              int width) {
  const size_t n = columns.size();
  std::vector<int> widths(n, 0);
  int used = 0;
  for (size_t c = 0; c + 1 < n; ++c) {
    for (const auto& row : rows) {
      widths[c] =
          std::max(widths[c], std::min(columns[c].second, Columns(row[c])));
    }
    used += widths[c] + 2;
  }
  // Too wide for the terminal: narrow the free-text columns, the reason and
  // comment first, down to their headers (the id stays whole).
  constexpr int kMinParameters = 16;
  for (const char* name :
       {"REASON", "COMMENT", "RESOURCE", "ACTION", "REQUESTER"}) {
    for (size_t c = 0; c + 1 < n; ++c) {
      const int over = used + kMinParameters - width;
      if (over <= 0 || absl::string_view(columns[c].first) != name) continue;
      const int narrowest = Columns(name);
      const int cut = std::min(over, std::max(0, widths[c] - narrowest));
      widths[c] -= cut;
      used -= cut;
    }
  }
  widths[n - 1] = std::max(kMinParameters, width - used);
  return widths;
}

}  // namespace

std::string ApprovalTable(const std::vector<v1::Approval>& approvals,
                          absl::Time now, int width,
                          const TableOptions& options) {
  if (approvals.empty()) return absl::StrCat(options.empty_text, "\n");
  const std::vector<TableColumn> columns = TableColumns(options);
  const size_t n = columns.size();
  std::vector<std::vector<std::string>> rows;
  rows.emplace_back();
  for (const auto& c : columns) rows.back().push_back(c.first);
  for (const v1::Approval& a : approvals) {
    rows.push_back(TableRow(a, now, options));
  }
  const std::vector<int> widths = ColumnWidths(columns, rows, width);
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < n; ++c) {
      std::string cell = Fit(row[c], widths[c]);
      absl::StrAppend(&line, c + 1 < n ? Pad(cell, widths[c] + 2) : cell);
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

namespace {

// One "name:           value" line of ApprovalDetails.
void AppendField(std::string* out, absl::string_view name,
                 absl::string_view value) {
  absl::StrAppend(out, Pad(absl::StrCat(name, ":"), 17), value, "\n");
}

// What was asked, by whom, and when it was created and expires.
void AppendRequest(std::string* out, const v1::Approval& a, absl::Time now) {
  AppendField(out, "id", Printable(a.id()));
  AppendField(out, "state", v1::State_Name(a.state()));
  AppendField(out, "action", Printable(a.action()));
  AppendField(out, "resource", Printable(a.resource()));
  AppendField(out, "requester", Printable(a.requester()));
  if (!a.on_behalf_of().empty()) {
    AppendField(out, "on behalf of", Printable(a.on_behalf_of()));
  }
  AppendField(out, "justification", Printable(a.justification()));
  AppendField(out, "created",
              absl::StrCat(FormatTimestamp(a.create_time()), " (",
                           Relative(FromProto(a.create_time()), now), ")"));
  AppendField(out, "expires",
              absl::StrCat(FormatTimestamp(a.expire_time()), " (",
                           Relative(FromProto(a.expire_time()), now), ")"));
}

// The decision (if any), the idempotency key and the action digest.
void AppendDecision(std::string* out, const v1::Approval& a) {
  if (a.has_decide_time()) {
    std::string decided = FormatTimestamp(a.decide_time());
    if (!a.decided_by().empty()) {
      absl::StrAppend(&decided, " by ", Printable(a.decided_by()));
    }
    AppendField(out, "decided", decided);
  }
  if (!a.decision_comment().empty()) {
    AppendField(out, "comment", Printable(a.decision_comment()));
  }
  if (!a.idempotency_key().empty()) {
    AppendField(out, "idempotency key", Printable(a.idempotency_key()));
  }
  AppendField(out, "action digest", Printable(a.action_digest()));
}

// The rule's requirement and how far the approvals have come.
void AppendRequirement(std::string* out, const v1::Approval& a) {
  const v1::Requirement& r = a.requirement();
  AppendField(out, "rule", Printable(r.rule()));
  AppendField(out, "requires", RequirementText(r));
  if (r.has_execution_window()) {
    AppendField(
        out, "window",
        absl::StrCat("run within ",
                     absl::FormatDuration(FromProto(r.execution_window())),
                     " of approval"));
  }
  if (r.escalate_to_size() > 0) {
    const std::string groups = absl::StrCat(
        "[", Names({r.escalate_to().begin(), r.escalate_to().end()}, "-"), "]");
    AppendField(
        out, "escalation",
        a.has_escalate_time()
            ? absl::StrCat("escalated to ", groups, " at ",
                           FormatTimestamp(a.escalate_time()))
            : absl::StrCat("to ", groups, " if still pending ",
                           absl::FormatDuration(FromProto(r.escalate_after())),
                           " after creation"));
  }
  std::string approvals =
      absl::StrCat(ApprovalsSoFar(a), " of ", r.approvals_required());
  if (a.approvals_missing() > 0) {
    absl::StrAppend(&approvals, ", ", a.approvals_missing(), " missing");
  }
  AppendField(out, "approvals", approvals);
}

// "reviews: none", or one line per review.
void AppendReviews(std::string* out, const v1::Approval& a) {
  if (a.reviews().empty()) {
    AppendField(out, "reviews", "none");
    return;
  }
  absl::StrAppend(out, "reviews:\n");
  for (const v1::Review& review : a.reviews()) {
    std::string line =
        absl::StrCat("  ", FormatTimestamp(review.review_time()), "  ",
                     Pad(v1::Verdict_Name(review.verdict()), 7), "  by ",
                     Printable(review.reviewer()));
    if (!review.comment().empty()) {
      absl::StrAppend(&line, "  \"", Printable(review.comment()), "\"");
    }
    absl::StrAppend(out, line, "\n");
  }
}

}  // namespace

std::string ApprovalDetails(const v1::Approval& a, absl::Time now) {
  std::string out;
  AppendRequest(&out, a, now);
  AppendDecision(&out, a);
  AppendRequirement(&out, a);
  AppendReviews(&out, a);
  if (!a.approval_token().empty()) {
    AppendField(&out, "approval token", Printable(a.approval_token()));
  }
  absl::StrAppend(&out, "parameters:\n",
                  PrettyParameters(a.parameters_preview_json()));
  return out;
}

std::string SigningKeyText(const v1::SigningKey& key) {
  std::string out =
      absl::StrCat("# key_id: ", Printable(key.key_id()),
                   "\n# algorithm: ", Printable(key.algorithm()), "\n");
  for (absl::string_view line :
       absl::StrSplit(key.public_key_pem(), '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, Printable(line), "\n");
  }
  return out;
}

std::string ClaimsText(const ApprovalClaims& c, absl::Time now) {
  std::string out;
  auto field = [&out](absl::string_view name, absl::string_view value) {
    absl::StrAppend(&out, Pad(absl::StrCat(name, ":"), 17), value, "\n");
  };
  field("signature", absl::StrCat("OK, Ed25519 key ", Printable(c.key_id)));
  field("issuer", Printable(c.issuer));
  if (!c.audience.empty()) field("audience", Printable(c.audience));
  field("approval id", Printable(c.approval_id));
  field("action", Printable(c.action));
  field("action digest", Printable(c.action_digest));
  field("approvers", Names(c.approvers, "none (approved by the rule)"));
  field("rule", Printable(c.rule));
  field("approved", FormatUtc(c.approved_at));
  std::string when =
      now < c.not_before
          ? absl::StrCat("not yet: opens ", Relative(c.not_before, now))
      : now >= c.not_after
          ? absl::StrCat("closed ", Relative(c.not_after, now))
          : absl::StrCat("open, closes ", Relative(c.not_after, now));
  field("window", absl::StrCat(FormatUtc(c.not_before), " to ",
                               FormatUtc(c.not_after), " (", when, ")"));
  return out;
}

std::string ClaimsJson(const ApprovalClaims& c) {
  auto time = [](absl::Time t) {
    return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
  };
  nlohmann::json j = {{"approval_id", c.approval_id},
                      {"action", c.action},
                      {"action_digest", c.action_digest},
                      {"approvers", c.approvers},
                      {"rule", c.rule},
                      {"approved_at", time(c.approved_at)},
                      {"not_before", time(c.not_before)},
                      {"not_after", time(c.not_after)},
                      {"key_id", c.key_id},
                      {"issuer", c.issuer},
                      {"audience", c.audience}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string WebhookDeliveryTable(
    const std::vector<v1::WebhookDelivery>& deliveries, absl::Time now,
    int width, bool wide) {
  if (deliveries.empty()) return "no webhook deliveries\n";
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"EVENT", "ENDPOINT", "TYPE", "APPROVAL", "STATUS", "ATTEMPTS",
                  "LAST", "AGE"});
  if (wide) {
    for (const char* c : {"WEBHOOK-ID", "NEXT", "DELIVERED", "ERROR"}) {
      rows.back().push_back(c);
    }
  }
  for (const v1::WebhookDelivery& d : deliveries) {
    std::vector<std::string> row = {
        absl::StrCat(d.event_seq()),
        Printable(d.endpoint()),
        Printable(d.event_type()),
        Printable(d.approval_id()),
        absl::AsciiStrToUpper(Printable(d.status())),
        absl::StrCat(d.attempts()),
        d.last_http_status() > 0 ? absl::StrCat(d.last_http_status()) : "-",
        d.has_enqueue_time() ? FormatAge(now - FromProto(d.enqueue_time()))
                             : "-"};
    if (wide) {
      row.push_back(Printable(d.webhook_id()));
      row.push_back(d.status() == "pending" && d.has_next_attempt_time()
                        ? Relative(FromProto(d.next_attempt_time()), now)
                        : "-");
      row.push_back(d.has_deliver_time() ? FormatTimestamp(d.deliver_time())
                                         : "-");
      row.push_back(d.last_error().empty() ? "-" : Printable(d.last_error()));
    }
    rows.push_back(std::move(row));
  }
  const size_t n = rows[0].size();
  std::vector<int> widths(n, 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < n; ++c) {
      widths[c] = std::max(widths[c], Columns(row[c]));
    }
  }
  // The last column takes what is left, at least 16.
  int used = 0;
  for (size_t c = 0; c + 1 < n; ++c) used += widths[c] + 2;
  widths[n - 1] = std::max(16, std::min(widths[n - 1], width - used));
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < n; ++c) {
      std::string cell = Fit(row[c], widths[c]);
      absl::StrAppend(&line, c + 1 < n ? Pad(cell, widths[c] + 2) : cell);
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

std::string EventLine(const v1::DecisionEvent& e) {
  const v1::Approval& a = e.approval();
  std::string line =
      absl::StrCat("cursor ", e.cursor(), "  ", FormatTimestamp(e.event_time()),
                   "  ", Pad(EventName(e.type()), 9), "  ", Printable(a.id()),
                   "  by ", Printable(e.actor()), "  ", Printable(a.action()),
                   " ", Printable(a.resource()));
  if (e.type() == v1::EVENT_REVIEWED) {
    // One review of several: its verdict and what is still needed.
    absl::StrAppend(&line, "  ",
                    e.review().verdict() == v1::APPROVE ? "approve" : "deny",
                    e.review().relay().empty()
                        ? ""
                        : absl::StrCat(" via ", Printable(e.review().relay())),
                    ", ", e.approvals_missing(), " more needed");
    if (!e.review().comment().empty()) {
      absl::StrAppend(&line, "  \"", Printable(e.review().comment()), "\"");
    }
  } else if (e.type() == v1::EVENT_ESCALATED) {
    // Who may review it now, besides its reviewer groups.
    absl::StrAppend(&line, "  now also [",
                    Names({a.requirement().escalate_to().begin(),
                           a.requirement().escalate_to().end()},
                          "-"),
                    "]");
  } else if (e.type() != v1::EVENT_CREATED && !a.decision_comment().empty()) {
    absl::StrAppend(&line, "  \"", Printable(a.decision_comment()), "\"");
  }
  return line;
}

namespace {

// YAML 1.1 readers take these plain scalars for booleans and null.
bool IsYamlKeyword(absl::string_view s) {
  static constexpr const char* kKeywords[] = {
      "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"};
  for (const char* k : kKeywords) {
    if (absl::EqualsIgnoreCase(s, k)) return true;
  }
  return false;
}

// A plain (unquoted) scalar only when it cannot read as anything else: a
// letter, "_" or "/" first, then letters, digits and _ . / @ + - only.
bool YamlPlainSafe(absl::string_view s) {
  if (s.empty() || IsYamlKeyword(s)) return false;
  if (!absl::ascii_isalpha(s[0]) && s[0] != '_' && s[0] != '/') return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && !absl::StrContains("_./@+-", c)) {
      return false;
    }
  }
  return true;
}

// A double-quoted YAML scalar: JSON-like escapes, and every control or
// bidirectional control character escaped so a terminal shows it.
std::string YamlQuote(absl::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    size_t len;
    int32_t cp = DecodeUtf8(s, i, &len);
    if (cp == '"' || cp == '\\') {
      absl::StrAppend(&out, "\\", std::string(1, static_cast<char>(cp)));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0) {
      // Not UTF-8 (protobuf strings are): U+FFFD, as the JSON printer would.
      out += "\\uFFFD";
    } else if (IsControl(cp)) {
      absl::StrAppend(&out, absl::StrFormat("\\x%02x", cp));
    } else if (IsBidiControl(cp) || cp == 0x2028 || cp == 0x2029 ||
               cp == 0xfeff) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", cp));
    } else {
      out.append(s.data() + i, len);
    }
    i += len;
  }
  return out + "\"";
}

std::string YamlScalar(const nlohmann::ordered_json& j) {
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    return YamlPlainSafe(s) ? s : YamlQuote(s);
  }
  if (j.is_object()) return "{}";  // only reached when empty
  if (j.is_array()) return "[]";
  return j.dump();  // numbers, true, false, null
}

bool IsYamlBlock(const nlohmann::ordered_json& j) {
  return (j.is_object() || j.is_array()) && !j.empty();
}

// `j` (a non-empty object or array) as block YAML, every line indented by
// `indent` spaces.
void AppendYaml(const nlohmann::ordered_json& j, int indent, std::string* out) {
  const std::string pad(indent, ' ');
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      const std::string k = YamlPlainSafe(key) ? key : YamlQuote(key);
      if (IsYamlBlock(value)) {
        absl::StrAppend(out, pad, k, ":\n");
        AppendYaml(value, indent + 2, out);
      } else {
        absl::StrAppend(out, pad, k, ": ", YamlScalar(value), "\n");
      }
    }
    return;
  }
  for (const auto& item : j) {
    if (!IsYamlBlock(item)) {
      absl::StrAppend(out, pad, "- ", YamlScalar(item), "\n");
      continue;
    }
    // The item's first line goes on the dash: "- key: value".
    std::string block;
    AppendYaml(item, indent + 2, &block);
    block.replace(indent, 2, "- ");
    absl::StrAppend(out, block);
  }
}

}  // namespace

absl::StatusOr<std::string> ToYaml(const google::protobuf::Message& m) {
  absl::StatusOr<std::string> json = ToJson(m);
  if (!json.ok()) return json.status();
  nlohmann::ordered_json j =
      nlohmann::ordered_json::parse(*json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InternalError(
        absl::StrCat("encoding a ", m.GetTypeName(), " as YAML"));
  }
  if (j.empty()) return std::string("{}\n");
  std::string out;
  AppendYaml(j, 0, &out);
  return out;
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(m, &out, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("encoding a ", m.GetTypeName(),
                                            " as JSON: ", status.ToString()));
  }
  return out;
}

}  // namespace approval::ctl
